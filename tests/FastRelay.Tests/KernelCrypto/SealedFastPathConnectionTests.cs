using System.Security.Cryptography;
using FastRelay.Bpf;
using FastRelay.Bpf.Crypto;
using FastRelay.Protocols.Moq.Relay.FastPath;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Quic.Connection;
using FastRelay.Tests.Quic.FastPath;
using FastRelay.Tests.Runtime;
using Xunit;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.KernelCrypto;

/// <summary>
/// The stack's half of an encrypted fast-path connection (issue 16, docs/quic-encrypted-fast-path.md): our relay-side
/// connection (full 1-RTT protection) takes its packet numbers from the slot's <c>fr_next_pn</c> in the real relay object,
/// mapped into the process, and installs its send keys in the kernel through <see cref="KernelSealedSlot"/>; the real
/// egress program seals clear-text upstream copies with those keys and numbers; our subscriber connection (also full
/// protection) reads them, interleaved with the relay stack's own packets, as one connection: every byte intact, across a
/// key update. No stand-in: the kernel's copies come out of BPF_PROG_TEST_RUN and are put on the in-memory link.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class SealedFastPathConnectionTests(GeneratedObjects objects)
{
    private const uint Slot = 1;
    private const uint Channel = 7;
    private const ulong UpstreamStream = 2;
    private static readonly QuicMoqProtocol Quic = QuicMoqProtocol.Instance;
    private static readonly byte[] UpstreamCid = [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18];

    private static G.Maps Typed(RelaySession s) => QuicMoqProtocol.Typed(s.Maps);

    /// <summary>An encrypted relay link (neither end offers 0xBAAD) after the handshake.</summary>
    private static RelayLink EncryptedLink()
    {
        var link = new RelayLink(subscriber: s => s.Disable1RttEncryption = false, relay: r => r.Disable1RttEncryption = false);
        Assert.True(link.Handshake(), "handshake");
        Assert.False(link.Relay.IsFastPathCapable);
        return link;
    }

    /// <param name="relayInitiates">Who starts the key update in the middle: the relay (RFC 9001 §6.1), or the subscriber,
    /// which the relay's stack answers with its own next generation (§6.2).</param>
    [BpfTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_relay_stack_numbers_from_the_kernel_counter_and_the_subscriber_reads_sealed_kernel_copies_across_a_key_update(bool relayInitiates)
    {
        using var link = EncryptedLink();
        using var s = new RelaySession(objects, Quic);
        using var counter = new BpfMappedArray<ulong>(s.Object.Map("fr_next_pn"));
        var crypto = new QuicKernelCrypto(s.Object);
        var slot = new KernelSealedSlot(counter, crypto, Slot, connectionIdLength: 8);

        Assert.True(link.Relay.TryBeginSealedFastPath(slot, out ulong first));
        Assert.True(link.Relay.IsNumberedBeforeSealing);
        Assert.Equal(first, Volatile.Read(ref counter[Slot]));
        Assert.Equal(1, slot.KeyInstalls);

        // The slot as MoqKernelPlane activates it, with the connection id the relay's packets carry (the subscriber's).
        var subscriberCid = link.ToSubscriber.Last(d => (d[0] & 0x80) == 0).AsSpan(1, 8).ToArray();
        var sub = Topology.Subscriber(Quic, Slot, false) with { Active = true, IfIndex = 1, Channel = Channel, ConnectionId = subscriberCid };
        s.AddEgressDevice(1);
        s.Maps.SetSubscriber(Slot, sub);
        s.Maps.MapEndpoint(sub.Remote, Slot);
        Typed(s).CreditLimits.Update(Slot, ulong.MaxValue);
        Typed(s).CreditUsed.Update(Slot, 0);
        var lookup = new G.ChannelLookupKey { StreamId = UpstreamStream };
        UpstreamCid.CopyTo(lookup.DestinationConnectionId);
        Typed(s).ChannelLookup.Update(lookup, new G.ChannelKey { Id = Channel });

        // The relay's stream for the subgroup: everything written is shadow (the kernel sends it), mapped with delta 0.
        Assert.True(link.Relay.Streams.TryOpenStream(bidirectional: false, out ulong id));
        link.Relay.Streams.BeginKernelForwarding(id, 0);
        Typed(s).Streams.Update(new G.StreamKey { Slot = Slot, UpstreamStreamId = UpstreamStream },
            new G.StreamValue { StreamId = id, OffsetDelta = 0, ForwardFrom = 0, Limit = QuicMoqProtocol.MaxVarint });

        const int chunks = 40, chunk = 900;
        var data = RandomNumberGenerator.GetBytes(chunks * chunk);
        var received = new List<byte>();
        bool fin = false;
        link.OnStep = () =>
        {
            if (!fin) CorePair.Drain(link.Subscriber, id, received, out fin);
        };
        var numbers = new List<ulong>();
        for (int i = 0; i < chunks; i++)
        {
            if (i == chunks / 2)
            {
                // A key update in the middle: the relay's stack installs its next generation in the kernel itself, before
                // its first packet under it (initiated, or answering the subscriber's).
                if (relayInitiates)
                    Assert.True(link.RunUntil(() => link.Relay.TryInitiateKeyUpdate()), "key update allowed");
                else
                    Assert.True(link.RunUntil(() => link.Subscriber.TryInitiateKeyUpdate()) && link.RunUntil(() => slot.KeyInstalls == 2),
                        "the subscriber's key update answered");
                Assert.Equal(2, slot.KeyInstalls);
            }
            bool last = i == chunks - 1;
            var piece = data.AsSpan(i * chunk, chunk);
            Assert.Equal(chunk, link.Relay.Streams.Write(id, piece, last));
            var upstream = Frames.FromUpstream(Quic).Build(QuicMoqProtocol.Packet(UpstreamCid, (uint)(500 + i), UpstreamStream, (ulong)(i * chunk), piece, last));
            var run = s.SubscriberEgress.TestRun(upstream, s.CloneFor(Slot));
            Assert.Equal(TcAct.Ok, run.ReturnValue);
            var e = Assert.Single(s.TakeEvents());
            Assert.Equal(RegistrationView.Forwarded, e.Origin);
            numbers.Add(e.PacketNumber);
            var copy = run.Output.AsSpan(ParsedFrame.Parse(run.Output).PayloadOffset).ToArray();
            Assert.Equal((int)e.Length, copy.Length);
            link.InjectToSubscriber(copy);
            Assert.True(link.Relay.RegisterForwardedPacket(e.PacketNumber, link.Now, (int)e.Length, id, e.StreamOffset, e.DataLength, e.Fin != 0));
            link.Advance(2_000); // the relay's own packets (ACKs) go out between copies, numbered from the same counter
        }
        Assert.True(link.RunUntil(() => fin), $"received {received.Count} of {data.Length}; subscriber {link.Subscriber.Phase} {link.Subscriber.CloseInfo}");
        Assert.Equal(Convert.ToHexString(data), Convert.ToHexString(received.ToArray()));
        Assert.Null(link.Subscriber.CloseInfo);
        Assert.Null(link.Relay.CloseInfo);

        // One sequence: the kernel's numbers are distinct, above the first, and the counter moved past them and the stack's.
        Assert.Equal(chunks, numbers.Distinct().Count());
        Assert.All(numbers, n => Assert.True(n >= first));
        // The key update flipped the counter's phase bit (the phase the kernel seals its copies with, taken with the number).
        Assert.Equal(KernelSealedSlot.PhaseBit, Volatile.Read(ref counter[Slot]) & KernelSealedSlot.PhaseBit);
        ulong next = Volatile.Read(ref counter[Slot]) & KernelSealedSlot.NumberMask;
        Assert.True(next > numbers.Max());
        // Every other number of [first, next) was taken by the relay's stack for its own packets (ACKs, the key update's PING).
        Assert.True(next - first > (ulong)chunks, $"the stack took no number of its own: counter {first}..{next}, {chunks} copies");
        var stats = crypto.ReadStats();
        Assert.Equal((ulong)chunks, stats.Sealed);
        Assert.True(stats.StackPassed == 0, "the egress program only saw copies here (the stack's packets went through the in-memory link)");
    }

    [BpfFact]
    public void A_detached_slot_never_repeats_a_number_and_keeps_later_keys_out_of_the_kernel()
    {
        using var s = new RelaySession(objects, Quic);
        using var counter = new BpfMappedArray<ulong>(s.Object.Map("fr_next_pn"));
        var crypto = new QuicKernelCrypto(s.Object);
        var slot = new KernelSealedSlot(counter, crypto, 2, connectionIdLength: 8);
        using var keys = KernelCryptoFixtures.RandomKeys();
        slot.InstallSendKeys(keys);
        slot.Start(100);
        Assert.Equal(100UL, slot.Reserve());
        Interlocked.Add(ref counter[2], 5); // the kernel's copies took 101..105
        Assert.Equal(106UL, slot.Reserve());
        Assert.Equal(9, ConnectionEntry(s)[0]); // pn offset: the slot seals

        // The slot goes (MoqKernelPlane.RemoveSubscriber) and is reused by another connection whose counter starts low.
        slot.Detach();
        crypto.ClearConnection(2);
        Volatile.Write(ref counter[2], 3);
        Assert.Equal(107UL, slot.Reserve());
        Assert.Equal(108UL, slot.Reserve());
        Assert.Equal(3UL, Volatile.Read(ref counter[2]));
        using var next = keys.DeriveNextGeneration();
        slot.InstallSendKeys(next);
        Assert.Equal(1, slot.KeyInstalls);
        Assert.Equal(0, ConnectionEntry(s)[0]); // still clear text: the detached connection's key update did not reach it
    }

    private static byte[] ConnectionEntry(RelaySession s)
    {
        var value = new byte[8];
        Assert.True(s.Object.Map(QuicKernelCrypto.ConnectionsMap).TryLookup(BitConverter.GetBytes(2u), value));
        return value;
    }

    [Fact]
    public void A_connection_that_negotiated_disable_1rtt_encryption_or_is_numbered_already_gets_no_sealed_slot()
    {
        using var link = new RelayLink();
        Assert.True(link.Handshake(), "handshake");
        var recorder = new RecordingSlot();
        Assert.False(link.Relay.TryBeginSealedFastPath(recorder, out _));
        Assert.Equal(0, recorder.Installs);
        Assert.False(link.Relay.IsNumberedBeforeSealing);

        using var encrypted = EncryptedLink();
        Assert.True(encrypted.Relay.TryBeginSealedFastPath(recorder, out _));
        Assert.False(encrypted.Relay.TryBeginSealedFastPath(new RecordingSlot(), out _));
        Assert.Equal(1, recorder.Installs);
    }

    [Fact]
    public void Only_aes_gcm_suites_can_be_sealed_by_the_kernel()
    {
        Assert.True(QuicConnectionCore.KernelCanSeal(FastRelay.Protocols.Quic.Crypto.CipherSuite.Aes128GcmSha256));
        Assert.True(QuicConnectionCore.KernelCanSeal(FastRelay.Protocols.Quic.Crypto.CipherSuite.Aes256GcmSha384));
        Assert.False(QuicConnectionCore.KernelCanSeal(FastRelay.Protocols.Quic.Crypto.CipherSuite.ChaCha20Poly1305Sha256));
    }

    /// <summary>A slot that only counts (for the refusal paths, where nothing may reach any kernel).</summary>
    private sealed class RecordingSlot : ISealedFastPathSlot
    {
        private ulong _next;
        public int Installs { get; private set; }
        public void Start(ulong firstPacketNumber) => _next = firstPacketNumber;
        public ulong Reserve() => _next++;
        public void InstallSendKeys(FastRelay.Protocols.Quic.Crypto.PacketKeys keys) => Installs++;
    }
}
