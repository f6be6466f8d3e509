using System.Text.RegularExpressions;
using FastRelay.Bpf;
using FastRelay.Bpf.Crypto;
using FastRelay.Cli.Fuzz;
using FastRelay.Protocols.Moq.Relay.FastPath;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Runtime;
using Xunit;
using Xunit.Abstractions;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.KernelCrypto;

/// <summary>
/// The relay's own egress program (generated quic_moq object, EncryptedSubscribers) sealing the kernel's copies for a
/// subscriber slot with full 1-RTT protection (docs/quic-encrypted-fast-path.md, "Wiring into the relay"), through
/// BPF_PROG_TEST_RUN with real frames: a clear-text upstream fast-path packet cloned to an encrypted slot leaves sealed,
/// byte-identical to what our stack's <see cref="PacketProtection"/> makes of the clear-text copy with the subscriber's
/// keys and the kernel's number (the whole frame: addresses, IP and UDP lengths, checksums by <see cref="PacketBuilder"/>),
/// and opens with the stack. The stack's own packets on such a slot are left untouched.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed partial class EncryptedSubscriberEgressTests(GeneratedObjects objects, ITestOutputHelper output)
{
    private const uint Channel = 7;
    private const ulong UpstreamStream = 2;
    private const ulong DownstreamStream = 3;
    private const int PnOffset = 9; // first byte + the subscriber's 8-byte connection id
    private static readonly QuicMoqProtocol Quic = QuicMoqProtocol.Instance;
    private static readonly byte[] UpstreamCid = [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18];

    private static G.Maps Typed(RelaySession s) => QuicMoqProtocol.Typed(s.Maps);

    private static byte[] Data(int length, byte seed = 0x40) => Enumerable.Range(0, length).Select(i => (byte)(seed + i * 7)).ToArray();

    private static byte[] Upstream(bool v6, uint pn, ulong offset, byte[] data, bool fin = false) =>
        Frames.FromUpstream(Quic, v6).Build(QuicMoqProtocol.Packet(UpstreamCid, pn, UpstreamStream, offset, data, fin));

    /// <summary>An active subscriber of the channel with its stream mapped (delta 5), whose slot seals with
    /// <paramref name="keys"/> (null: a connection entry but no keys installed).</summary>
    private static (SubscriberSpec Sub, QuicKernelCrypto Crypto) EncryptedSubscriber(RelaySession s, uint slot, ulong nextPn, PacketKeys? keys,
        bool v6 = false, uint ifIndex = 1)
    {
        var crypto = new QuicKernelCrypto(s.Object);
        if (keys is not null)
            KernelCryptoFixtures.Install(crypto, (int)slot, keys.KeyPhase ? 1 : 0, keys);
        // Written before the slot is active: from its first packet on, the slot is an encrypted one.
        crypto.SetConnection((int)slot, PnOffset, keys?.KeyPhase == true ? 1 : 0, nextPn == 0 ? 0 : nextPn - 1);
        var sub = s.AddSubscriber(slot, v6: v6, nextPacketNumber: nextPn, channel: Channel, ifIndex: ifIndex);
        if (keys?.KeyPhase == true) SendWithPhase(s, crypto, slot, 1);
        MapSlot(s, slot);
        return (sub, crypto);
    }

    /// <summary>What the relay's stack does once the keys of <paramref name="phase"/> are installed (KernelSealedSlot):
    /// the connection entry's send phase, and bit 63 of the slot's counter, which is what the egress program seals with.</summary>
    private static void SendWithPhase(RelaySession s, QuicKernelCrypto crypto, uint slot, int phase)
    {
        crypto.SetSendPhase((int)slot, phase);
        var counter = s.Maps.NextPacketNumber(slot);
        KernelSealedSlot.SetPhaseBit(ref counter, phase == 1 ? KernelSealedSlot.PhaseBit : 0);
        s.Maps.SetNextPacketNumber(slot, counter);
    }

    /// <summary>The copy as our stack would send it on the subscriber's connection: the clear-text copy (its connection id,
    /// number, stream, moved offset) sealed by <see cref="PacketProtection.Protect"/>, in the subscriber's frame.</summary>
    private static (byte[] Frame, byte[] Plain) StackSealedCopy(SubscriberSpec sub, bool v6, ulong pn, ulong offset, byte[] data, PacketKeys keys) =>
        StackSealedCopy(sub, Frames.FromUpstream(Quic, v6), pn, offset, data, keys);

    /// <param name="upstreamLike">The publisher's datagram the copy was made from (family, checksum mode).</param>
    private static (byte[] Frame, byte[] Plain) StackSealedCopy(SubscriberSpec sub, PacketBuilder upstreamLike, ulong pn, ulong offset, byte[] data,
        PacketKeys keys)
    {
        var clear = QuicMoqProtocol.Packet(sub.ConnectionId, (uint)pn, DownstreamStream, offset, data, fin: false);
        clear[0] = (byte)((clear[0] & ~0x04) | (keys.KeyPhase ? 0x04 : 0));
        var packet = new byte[clear.Length + PacketProtection.TagLength];
        clear.CopyTo(packet, 0);
        PacketProtection.Protect(packet, PnOffset, pn, clear.Length - PnOffset - 4, keys);
        return (Frames.ToSubscriber(upstreamLike, sub).Build(packet), clear);
    }

    /// <summary>Our stack opens the sealed UDP payload: returns the header and plaintext in clear.</summary>
    private static byte[] StackOpen(byte[] quic, PacketKeys keys, ulong largest)
    {
        var copy = quic.ToArray();
        Assert.True(PacketProtection.TryRemoveHeaderProtection(copy, PnOffset, keys.HeaderProtection, out int pnLength, out uint truncated, out var error),
            error.ToString());
        ulong pn = FastRelay.Protocols.Quic.Wire.PacketNumber.Decode(largest, truncated, pnLength);
        Assert.True(PacketProtection.TryDecryptPayload(copy, PnOffset, pnLength, pn, keys.Aead, out int offset, out int length, out error),
            error.ToString());
        return [.. copy.AsSpan(0, offset), .. copy.AsSpan(offset, length)];
    }

    /// <summary>The copy is dropped (TC_ACT_SHOT): what the program left in the buffer never leaves, so it is not compared.</summary>
    private static void AssertDropped(RelaySession s, byte[] input, SkbContext context) =>
        Assert.Equal(TcAct.Shot, s.SubscriberEgress.TestRun(input, context).ReturnValue);

    private static byte[] UdpPayload(byte[] frame) => frame.AsSpan(ParsedFrame.Parse(frame).PayloadOffset).ToArray();

    [BpfFact]
    public void A_clear_text_upstream_copy_to_an_encrypted_slot_leaves_sealed_and_opens_with_the_subscribers_keys()
    {
        foreach (var v6 in new[] { false, true })
        foreach (var suite in new[] { CipherSuite.Aes128GcmSha256, CipherSuite.Aes256GcmSha384 })
        {
            using var s = new RelaySession(objects, Quic);
            using var keys = KernelCryptoFixtures.RandomKeys(suite);
            var (sub, crypto) = EncryptedSubscriber(s, 1, nextPn: 100, keys, v6: v6);
            ulong pn = 100;
            foreach (var (offset, length) in new[] { (1000UL, 200), (1200UL, 1), (1201UL, 1000), (2201UL, 15) })
            {
                var data = Data(length, (byte)offset);
                var (expected, plain) = StackSealedCopy(sub, v6, pn, offset + 5, data, keys);
                var result = s.SubscriberEgress.Run(new PacketFixture($"v6={v6} {suite} pn {pn}", Upstream(v6, 0x5000 + (uint)pn, offset, data), TcAct.Ok,
                    expected, s.CloneFor(1)));

                Assert.Equal(Checksums.Udp(result.Output), ParsedFrame.Parse(result.Output).UdpChecksumField(result.Output));
                Assert.Equal(Convert.ToHexString(plain), Convert.ToHexString(StackOpen(UdpPayload(result.Output), keys, pn - 1)));
                var e = Assert.Single(s.TakeEvents());
                // Registered with the size the subscriber receives: header, data and the tag.
                Assert.Equal(new RegistrationView(e.TimestampNs, pn, 0x5000 + pn, DownstreamStream, UpstreamStream, 1,
                    (uint)(30 + length + PacketProtection.TagLength), RegistrationView.Forwarded, 0, offset + 5, (uint)length, 0, 0), e);
                pn++;
                Assert.Equal(pn, s.Maps.NextPacketNumber(1));
            }
            Assert.Equal(new QuicKernelCryptoStats(Sealed: 4, 0, 0, 0, 0, 0), crypto.ReadStats());
        }
    }

    [BpfFact]
    public void A_copy_translated_to_the_subscribers_ip_family_is_sealed_too()
    {
        foreach (var subscriberV6 in new[] { true, false })
        {
            using var s = new RelaySession(objects, Quic);
            s.Maps.TranslateFamilies(); // what MoqKernelPlane sets
            using var keys = KernelCryptoFixtures.RandomKeys();
            var (sub, _) = EncryptedSubscriber(s, 3, nextPn: 50, keys, v6: subscriberV6);
            var data = Data(700);
            // The publisher's packet is of the other family: a new IP header first (fr_family.h), then the tag's room.
            var upstream = Frames.FromUpstream(Quic, v6: !subscriberV6).Build(QuicMoqProtocol.Packet(UpstreamCid, 9, UpstreamStream, 0, data, fin: false));
            var (expected, clear) = StackSealedCopy(sub, Frames.FromUpstream(Quic, v6: !subscriberV6), 50, 5, data, keys);

            var result = s.SubscriberEgress.Run(new PacketFixture($"to IPv{(subscriberV6 ? 6 : 4)}", upstream, TcAct.Ok, expected, s.CloneFor(3)));
            Assert.Equal(Convert.ToHexString(clear), Convert.ToHexString(StackOpen(UdpPayload(result.Output), keys, 49)));
            Assert.Equal(1UL, s.Maps.Stats().EgressFamilyTranslated);
        }
    }

    [BpfFact]
    public void An_ipv4_datagram_without_a_udp_checksum_is_sealed_and_keeps_none()
    {
        using var s = new RelaySession(objects, Quic);
        using var keys = KernelCryptoFixtures.RandomKeys();
        var (sub, _) = EncryptedSubscriber(s, 4, nextPn: 8, keys);
        var data = Data(333);
        var noChecksum = Frames.FromUpstream(Quic) with { UdpChecksum = false };
        var upstream = noChecksum.Build(QuicMoqProtocol.Packet(UpstreamCid, 1, UpstreamStream, 0, data, fin: false));
        var (expected, _) = StackSealedCopy(sub, noChecksum, 8, 5, data, keys);

        var result = s.SubscriberEgress.Run(new PacketFixture("no UDP checksum", upstream, TcAct.Ok, expected, s.CloneFor(4)));
        Assert.Equal(0, ParsedFrame.Parse(result.Output).UdpChecksumField(result.Output));
    }

    [BpfFact]
    public void A_key_update_switches_the_copies_to_the_next_generation_and_key_phase()
    {
        using var s = new RelaySession(objects, Quic);
        using var first = KernelCryptoFixtures.RandomKeys();
        using var second = first.DeriveNextGeneration();
        var (sub, crypto) = EncryptedSubscriber(s, 2, nextPn: 7, first);
        var data = Data(300);

        var (before, _) = StackSealedCopy(sub, false, 7, 5, data, first);
        s.SubscriberEgress.Run(new PacketFixture("phase 0", Upstream(false, 1, 0, data), TcAct.Ok, before, s.CloneFor(2)));

        // What the relay's stack does at a key update: the next generation into the other phase (header protection keys
        // stay the first generation's, RFC 9001 §6), then the send phase flips.
        KernelCryptoFixtures.Install(crypto, 2, 1, second, hpFrom: first);
        SendWithPhase(s, crypto, 2, 1);
        var (after, _) = StackSealedCopy(sub, false, 8, 305, data, second);
        // Byte-exact: the second generation's AEAD, its key phase bit (under header protection) and number 8.
        s.SubscriberEgress.Run(new PacketFixture("phase 1", Upstream(false, 2, 300, data), TcAct.Ok, after, s.CloneFor(2)));
        Assert.Equal(9UL | KernelSealedSlot.PhaseBit, s.Maps.NextPacketNumber(2));
    }

    /// <summary>The phase a copy is sealed with comes with its number, from bit 63 of the slot's counter (one atomic
    /// operation: copies change phase in number order even when two CPUs number copies across a key update), not from
    /// the connection entry: with the entry still at phase 0 and the counter's bit at 1, the copy is sealed with the
    /// phase-1 keys and carries the number without the bit.</summary>
    [BpfFact]
    public void The_key_phase_is_taken_with_the_number_from_the_counter_not_from_the_connection_entry()
    {
        using var s = new RelaySession(objects, Quic);
        using var first = KernelCryptoFixtures.RandomKeys();
        using var second = first.DeriveNextGeneration();
        var (sub, crypto) = EncryptedSubscriber(s, 2, nextPn: 20, first);
        KernelCryptoFixtures.Install(crypto, 2, 1, second, hpFrom: first);
        s.Maps.SetNextPacketNumber(2, 20 | KernelSealedSlot.PhaseBit);   // the entry's send phase stays 0
        var data = Data(200);

        var (expected, _) = StackSealedCopy(sub, false, 20, 5, data, second);
        s.SubscriberEgress.Run(new PacketFixture("phase from the counter", Upstream(false, 1, 0, data), TcAct.Ok, expected, s.CloneFor(2)));
        Assert.Equal(21UL | KernelSealedSlot.PhaseBit, s.Maps.NextPacketNumber(2));
        Assert.Equal(20UL, s.TakeEvents().Single().PacketNumber);
    }

    [BpfFact]
    public void The_stacks_own_packets_on_an_encrypted_slot_are_left_untouched_and_take_no_kernel_number()
    {
        using var s = new RelaySession(objects, Quic);
        using var keys = KernelCryptoFixtures.RandomKeys();
        var (sub, crypto) = EncryptedSubscriber(s, 3, nextPn: 40, keys);
        // The stack took 40 from the mapped counter itself and sealed the packet: the egress program must not renumber it.
        var sealedByStack = KernelCryptoFixtures.StackSeal(sub.ConnectionId, 40, Data(60), keys);
        var stackFrame = FromRelayStack(sub, sealedByStack);

        s.SubscriberEgress.Run(new PacketFixture("stack packet", stackFrame, TcAct.Unspec, stackFrame));
        Assert.Empty(s.TakeEvents());
        Assert.Equal(40UL, s.Maps.NextPacketNumber(3));
        Assert.Equal(1UL, crypto.ReadStats().StackPassed);
    }

    /// <summary>A datagram the relay's own stack sends to the subscriber (from the relay port to its endpoint).</summary>
    private static byte[] FromRelayStack(SubscriberSpec sub, byte[] quic) => Frames.FromRelayStack(sub).Build(quic);

    [BpfFact]
    public void A_copy_that_the_tag_would_take_past_the_device_mtu_is_refused_before_it_takes_a_number()
    {
        using var device = RedirectDevice.Create("frcz", mtu: 1280);
        using var s = new RelaySession(objects, Quic);
        using var keys = KernelCryptoFixtures.RandomKeys();
        var (sub, crypto) = EncryptedSubscriber(s, 4, nextPn: 70, keys, ifIndex: device.IfIndex);
        var onDevice = s.CloneFor(4) with { Ifindex = device.IfIndex };
        // IPv4: 20 + 8 + 30 + data + 16 = 1280 exactly fits; one byte more does not (it would fit without the tag).
        var fits = Data(1280 - 20 - 8 - 30 - PacketProtection.TagLength);
        var tooBig = Data(fits.Length + 1);

        AssertDropped(s, Upstream(false, 1, 0, tooBig), onDevice);
        var refused = Assert.Single(s.TakeEvents());
        Assert.Equal((RegistrationView.NotForwarded, (byte)G.NotForwardedReason.RewriteFailed, 5UL, (uint)tooBig.Length),
            (refused.Origin, refused.Reason, refused.StreamOffset, refused.DataLength));
        Assert.Equal(70UL, s.Maps.NextPacketNumber(4));
        Assert.Equal(0UL, Typed(s).CreditUsed.Lookup(4)); // the credit came back
        Assert.Equal(1UL, crypto.ReadStats().TooBig);

        var (expected, _) = StackSealedCopy(sub, false, 70, 5, fits, keys);
        var result = s.SubscriberEgress.Run(new PacketFixture("fits with the tag", Upstream(false, 2, 0, fits), TcAct.Ok, expected, onDevice));
        Assert.Equal(1280 + 14, result.Output.Length);
        Assert.Equal(71UL, s.Maps.NextPacketNumber(4));
    }

    [BpfFact]
    public void A_copy_for_an_encrypted_slot_without_keys_never_leaves_in_clear_text()
    {
        using var s = new RelaySession(objects, Quic);
        var (_, crypto) = EncryptedSubscriber(s, 5, nextPn: 10, keys: null);

        AssertDropped(s, Upstream(false, 1, 0, Data(100)), s.CloneFor(5));
        var refused = Assert.Single(s.TakeEvents());
        Assert.Equal((RegistrationView.NotForwarded, (byte)G.NotForwardedReason.RewriteFailed), (refused.Origin, refused.Reason));
        Assert.Equal(1UL, crypto.ReadStats().NoKeys);
        // The number was taken before the seal failed: the subscriber sees a gap, which QUIC allows; never a clear copy.
        Assert.Equal(11UL, s.Maps.NextPacketNumber(5));
    }

    [BpfFact]
    public void A_clear_text_slot_of_the_same_object_is_rewritten_exactly_as_before()
    {
        using var s = new RelaySession(objects, Quic);
        var sub = s.AddSubscriber(6, nextPacketNumber: 20, channel: Channel);
        MapSlot(s, 6);
        var data = Data(100);
        var expected = Frames.ToSubscriber(Frames.FromUpstream(Quic), sub).Build(QuicMoqProtocol.Packet(sub.ConnectionId, 20, DownstreamStream, 5, data, false));

        s.SubscriberEgress.Run(new PacketFixture("clear", Upstream(false, 1, 0, data), TcAct.Ok, expected, s.CloneFor(6)));
        Assert.Equal(30u + 100, Assert.Single(s.TakeEvents()).Length);
    }

    /// <summary>What sealing adds to a copy in the relay's egress program: one subscriber slot sealed and one clear, same
    /// object, same 1200-byte packets, one run per packet (a repeated run would grow one skb again and again). Figures
    /// only (the machine is shared): the kernel's duration of a single run includes the test-run overhead.</summary>
    [BpfTheory]
    [InlineData(QuicKernelCrypto.DefaultAlgorithm)]
    [InlineData("ecb(aes-generic)")]
    public void Cost_of_a_sealed_copy_against_a_clear_text_copy_of_1200_bytes(string algorithm)
    {
        using var s = new RelaySession(objects, Quic);
        using var keys = KernelCryptoFixtures.RandomKeys();
        var crypto = new QuicKernelCrypto(s.Object, algorithm);
        KernelCryptoFixtures.Install(crypto, 1, 0, keys);
        crypto.SetConnection(1, PnOffset, 0, 0);
        s.AddSubscriber(1, channel: Channel);
        MapSlot(s, 1);
        s.AddSubscriber(2, channel: Channel); // no connection entry: clear text
        MapSlot(s, 2);
        var data = Data(1200 - 30 - PacketProtection.TagLength);
        const int packets = 300;
        long sealedNs = 0, clearNs = 0;
        for (int i = 0; i < packets; i++)
        {
            var upstream = Upstream(false, (uint)i, (ulong)(i * data.Length), data);
            var sealedRun = s.SubscriberEgress.TestRun(upstream, s.CloneFor(1));
            var clearRun = s.SubscriberEgress.TestRun(upstream, s.CloneFor(2));
            Assert.Equal((TcAct.Ok, TcAct.Ok), (sealedRun.ReturnValue, clearRun.ReturnValue));
            sealedNs += sealedRun.DurationNanoseconds;
            clearNs += clearRun.DurationNanoseconds;
        }
        Assert.Equal((ulong)packets, crypto.ReadStats().Sealed);
        output.WriteLine($"{algorithm}: 1200-byte copy through fr_subscriber_egress: sealed {sealedNs / packets} ns, clear text {clearNs / packets} ns " +
                         $"(mean of {packets} single runs each)");
    }

    /// <summary>Unlimited credit, the upstream stream assigned to the channel, and the slot's stream mapping (delta 5).</summary>
    private static void MapSlot(RelaySession s, uint slot)
    {
        Typed(s).CreditLimits.Update(slot, ulong.MaxValue);
        Typed(s).CreditUsed.Update(slot, 0);
        var key = new G.ChannelLookupKey { StreamId = UpstreamStream };
        UpstreamCid.CopyTo(key.DestinationConnectionId);
        Typed(s).ChannelLookup.Update(key, new G.ChannelKey { Id = Channel });
        Typed(s).Streams.Update(new G.StreamKey { Slot = slot, UpstreamStreamId = UpstreamStream },
            new G.StreamValue { StreamId = DownstreamStream, OffsetDelta = 5, ForwardFrom = 0, Limit = QuicMoqProtocol.MaxVarint });
    }

    [BpfFact]
    public void The_verifier_accepts_the_relay_object_with_the_seal_and_reports_its_instruction_counts()
    {
        using var obj = BpfObject.Open(objects.ObjectPath(G.Protocol), new BpfObjectOptions { VerifierLogLevel = 4 });
        obj.Load();
        foreach (var program in obj.Programs)
        {
            var log = program.VerifierLog ?? "";
            var processed = Regex.Match(log, @"processed (\d+) insns");
            Assert.True(processed.Success, $"{program.Name}: no statistics in\n{log}");
            output.WriteLine($"{program.Name}: {log.Trim().Replace('\n', ' ')}");
            Assert.True(int.Parse(processed.Groups[1].Value) < 1_000_000);
        }
    }
}
