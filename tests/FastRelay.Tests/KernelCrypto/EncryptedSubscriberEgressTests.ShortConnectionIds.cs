using FastRelay.Cli.Fuzz;
using FastRelay.Bpf.Crypto;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.KernelCrypto;

/// <summary>
/// Sealed slots for subscribers whose connection id is shorter than the descriptor's 8 bytes (issue 16, item c): Chromium
/// gives itself a zero-length connection id, so the relay's packets to it carry none. The egress program writes the
/// descriptor's 8-byte field (the subscriber's id, zero-padded in its slot entry, as MoqKernelPlane writes it) and the
/// seal, which rebuilds the packet in scratch anyway, leaves the padding out: the copy grows by the tag less the cut.
/// </summary>
public sealed partial class EncryptedSubscriberEgressTests
{
    /// <summary>A subscriber slot that seals for a connection id of <paramref name="cidLength"/> bytes: the slot entry
    /// holds the id padded to 8 bytes, the connection entry its packet number offset (1 + the id's length).</summary>
    private static (SubscriberSpec Sub, QuicKernelCrypto Crypto) ShortCidSubscriber(RelaySession s, uint slot, int cidLength, ulong nextPn, PacketKeys keys,
        bool v6 = false, uint ifIndex = 1)
    {
        var crypto = new QuicKernelCrypto(s.Object);
        KernelCryptoFixtures.Install(crypto, (int)slot, 0, keys);
        crypto.SetConnection((int)slot, 1 + cidLength, 0, nextPn == 0 ? 0 : nextPn - 1);
        var sub = s.AddSubscriber(slot, v6: v6, nextPacketNumber: nextPn, channel: Channel, ifIndex: ifIndex);
        // What the relay writes for such a connection: the id's bytes, the rest of the descriptor's field zero.
        sub = sub with { ConnectionId = sub.ConnectionId[..cidLength] };
        s.Maps.SetSubscriber(slot, sub);
        MapSlot(s, slot);
        return (sub, crypto);
    }

    /// <summary>The copy as our stack would seal it on a connection with a <c>cid.Length</c>-byte id: the clear-text copy
    /// with the id at its real length, <see cref="PacketProtection.Protect"/>, in the subscriber's frame.</summary>
    private static (byte[] Frame, byte[] Plain) StackSealedShortCidCopy(SubscriberSpec sub, bool v6, ulong pn, ulong offset, byte[] data, PacketKeys keys)
    {
        var full = QuicMoqProtocol.Packet(new byte[8], (uint)pn, DownstreamStream, offset, data, fin: false);
        int pnOffset = 1 + sub.ConnectionId.Length;
        byte[] clear = [full[0], .. sub.ConnectionId, .. full.AsSpan(9)];
        clear[0] = (byte)((clear[0] & ~0x04) | (keys.KeyPhase ? 0x04 : 0)); // the key phase bit the kernel seals with
        var packet = new byte[clear.Length + PacketProtection.TagLength];
        clear.CopyTo(packet, 0);
        PacketProtection.Protect(packet, pnOffset, pn, clear.Length - pnOffset - 4, keys);
        return (Frames.ToSubscriber(Frames.FromUpstream(Quic, v6), sub).Build(packet), clear);
    }

    private static byte[] StackOpen(byte[] quic, PacketKeys keys, ulong largest, int pnOffset)
    {
        var copy = quic.ToArray();
        Assert.True(PacketProtection.TryRemoveHeaderProtection(copy, pnOffset, keys.HeaderProtection, out int pnLength, out uint truncated, out var error),
            error.ToString());
        ulong pn = FastRelay.Protocols.Quic.Wire.PacketNumber.Decode(largest, truncated, pnLength);
        Assert.True(PacketProtection.TryDecryptPayload(copy, pnOffset, pnLength, pn, keys.Aead, out int offset, out int length, out error), error.ToString());
        return [.. copy.AsSpan(0, offset), .. copy.AsSpan(offset, length)];
    }

    [BpfFact]
    public void A_copy_for_a_subscriber_with_a_zero_or_four_byte_connection_id_is_byte_identical_to_the_stacks_seal()
    {
        foreach (var cidLength in new[] { 0, 4 })
        foreach (var v6 in new[] { false, true })
        {
            using var s = new RelaySession(objects, Quic);
            using var keys = KernelCryptoFixtures.RandomKeys();
            var (sub, crypto) = ShortCidSubscriber(s, 2, cidLength, nextPn: 300, keys, v6);
            ulong pn = 300;
            // 1 byte, a block boundary, a chunk boundary of the checksum sum (512) and a large packet.
            foreach (var (offset, length) in new[] { (0UL, 1), (1UL, 16), (17UL, 520), (537UL, 1300) })
            {
                var data = Data(length, (byte)(offset + (ulong)cidLength));
                var (expected, plain) = StackSealedShortCidCopy(sub, v6, pn, offset + 5, data, keys);
                var result = s.SubscriberEgress.Run(new PacketFixture($"cid {cidLength} v6={v6} pn {pn}", Upstream(v6, 0x7000 + (uint)pn, offset, data), TcAct.Ok,
                    expected, s.CloneFor(2)));

                Assert.Equal(Checksums.Udp(result.Output), ParsedFrame.Parse(result.Output).UdpChecksumField(result.Output));
                Assert.Equal(Convert.ToHexString(plain), Convert.ToHexString(StackOpen(UdpPayload(result.Output), keys, pn - 1, 1 + cidLength)));
                var e = Assert.Single(s.TakeEvents());
                // Registered with the size the subscriber receives: the header with its real id, the data and the tag.
                Assert.Equal((pn, (uint)(30 - (8 - cidLength) + length + PacketProtection.TagLength), offset + 5, (uint)length),
                    (e.PacketNumber, e.Length, e.StreamOffset, e.DataLength));
                pn++;
            }
            Assert.Equal(pn, s.Maps.NextPacketNumber(2));
            Assert.Equal(4UL, crypto.ReadStats().Sealed);
        }
    }

    [BpfFact]
    public void A_zero_length_connection_id_leaves_room_so_a_copy_the_full_tag_would_push_past_the_mtu_still_fits()
    {
        using var device = RedirectDevice.Create("frcw", mtu: 1280);
        using var s = new RelaySession(objects, Quic);
        using var keys = KernelCryptoFixtures.RandomKeys();
        var (sub, crypto) = ShortCidSubscriber(s, 3, 0, nextPn: 9, keys, ifIndex: device.IfIndex);
        var onDevice = s.CloneFor(3) with { Ifindex = device.IfIndex };
        // IPv4: 20 + 8 + (30 - 8) + data + 16 = 1280 exactly fits; an 8-byte id's copy of this size would not.
        var fits = Data(1280 - 20 - 8 - 22 - PacketProtection.TagLength);
        var (expected, _) = StackSealedShortCidCopy(sub, false, 9, 5, fits, keys);
        var result = s.SubscriberEgress.Run(new PacketFixture("fits with the tag less the id", Upstream(false, 1, 0, fits), TcAct.Ok, expected, onDevice));
        Assert.Equal(1280 + 14, result.Output.Length);

        // One byte more is refused before it takes a number.
        AssertDropped(s, Upstream(false, 2, (ulong)fits.Length, Data(fits.Length + 1)), onDevice);
        Assert.Equal(10UL, s.Maps.NextPacketNumber(3));
        Assert.Equal(1UL, crypto.ReadStats().TooBig);
    }
}
