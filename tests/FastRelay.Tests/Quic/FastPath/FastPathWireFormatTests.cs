using System.Buffers.Binary;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;
using FastRelay.Tests.Quic.Connection;
using Xunit;

namespace FastRelay.Tests.Quic.FastPath;

/// <summary>
/// The bytes on the wire as prompts/contract.md fixes them for the kernel: clear-text 1-RTT packets when both ends
/// negotiate disable_1rtt_encryption (0xBAAD), and the one-frame fast-path layout of publisher streams. Every check
/// parses captured datagrams byte by byte at the contract's offsets.
/// </summary>
public sealed class FastPathWireFormatTests
{
    private static byte[] Payload(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static bool IsShortHeader(byte[] d) => (d[0] & 0x80) == 0;

    /// <summary>A pair whose client-to-server datagrams are copied as they leave (the receiving core decrypts in place).</summary>
    private static (CorePair Pair, List<byte[]> Wire) CapturingPair(bool clientPlaintext, bool serverPlaintext, Func<byte[], bool>? drop = null)
    {
        var wire = new List<byte[]>();
        bool dropNext = false;
        var pair = new CorePair(c => c.Disable1RttEncryption = clientPlaintext, s => s.Disable1RttEncryption = serverPlaintext)
        {
            // Mutate sees each datagram just before Lose decides about it: that is where the test copies it and picks drops.
            Mutate = (toServer, bytes) =>
            {
                if (!toServer) return;
                wire.Add(bytes.ToArray());
                dropNext = drop is not null && drop(bytes);
            },
            Lose = (toServer, _) => toServer && dropNext,
        };
        return (pair, wire);
    }

    /// <summary>Frames of a clear-text 1-RTT packet: everything after the 4-byte number must decode, with no tag left over.</summary>
    private static List<object> DecodeClearText(byte[] datagram)
    {
        var handler = new CollectingHandler();
        Assert.True(FrameDecoder.TryDecode(datagram.AsMemory(QuicConnectionCore.FastPathFrameOffset), QuicPacketType.OneRtt, ref handler,
            out _, out var error), $"1-RTT payload does not decode as frames to its end: {error}");
        return handler.Frames;
    }

    [Fact]
    public void Both_ends_on_1rtt_packets_are_clear_text_with_a_4_byte_number_and_no_tag()
    {
        var (pair, wire) = CapturingPair(true, true);
        using var owned = pair;
        Assert.True(pair.Handshake());
        Assert.True(pair.Client.IsOneRttPlaintext && pair.Server!.IsOneRttPlaintext);
        var payload = Payload(20_000, 1);
        var (streamId, received) = pair.Transfer(payload);
        Assert.Equal(payload, received);

        var oneRtt = wire.Where(IsShortHeader).ToList();
        Assert.True(oneRtt.Count >= 15, $"only {oneRtt.Count} 1-RTT datagrams");
        var reassembled = new byte[payload.Length];
        ulong? previous = null;
        foreach (var d in oneRtt)
        {
            // First byte: fixed bit + 4-byte packet number length, reserved bits zero, no header protection mask.
            Assert.Equal(0x43, d[0] & 0xDB);
            Assert.Contains(pair.ServerIds, id => id.Span.SequenceEqual(d.AsSpan(1, 8)));
            ulong pn = BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(QuicConnectionCore.FastPathPacketNumberOffset));
            if (previous is ulong p) Assert.True(pn > p, $"packet number {pn} after {p}");   // in clear: nothing masks it
            previous = pn;
            foreach (var frame in DecodeClearText(d))
                if (frame is StreamFrame s && s.StreamId == streamId) s.Data.Span.CopyTo(reassembled.AsSpan((int)s.Offset));
        }
        // The stream's bytes are readable in the captured packets themselves: no payload encryption.
        Assert.Equal(payload, reassembled);
    }

    [Fact]
    public void One_end_only_leaves_1rtt_packets_encrypted()
    {
        var (pair, wire) = CapturingPair(true, false);
        using var owned = pair;
        Assert.True(pair.Handshake());
        Assert.False(pair.Client.IsOneRttPlaintext);
        var payload = Payload(4_000, 2);
        Assert.Equal(payload, pair.Transfer(payload).Received);
        Assert.Contains(wire, IsShortHeader);
        foreach (var d in wire.Where(IsShortHeader))
            Assert.True(d.AsSpan().IndexOf(payload.AsSpan(100, 32)) < 0, "stream bytes readable on an encrypted connection");
    }

    /// <summary>Publisher: a uni stream marked fast-path; returns the client-to-server datagrams and what the server read.</summary>
    private static (List<byte[]> Wire, byte[] Received, ulong StreamId, CorePair Pair) SendFastPathStream(byte[] payload,
        bool serverPlaintext = true, Func<byte[], bool>? drop = null)
    {
        var (pair, wire) = CapturingPair(true, serverPlaintext, drop);
        Assert.True(pair.Handshake());
        pair.RunUntil(() => false, 100_000);   // HANDSHAKE_DONE confirms the client's handshake
        int before = wire.Count;
        Assert.True(pair.Client.Streams.TryOpenStream(bidirectional: false, out ulong id));
        pair.Client.Streams.SetFastPathLayout(id, true);
        Assert.Equal(payload.Length, pair.Client.Streams.Write(id, payload, fin: true));
        var received = new List<byte>();
        bool fin = false;
        Assert.True(pair.RunUntil(() =>
        {
            CorePair.Drain(pair.Server!, id, received, out bool f);
            return fin |= f;
        }), $"server read {received.Count} of {payload.Length}");
        return (wire.Skip(before).ToList(), received.ToArray(), id, pair);
    }

    private static bool IsFastPathPacket(byte[] d) =>
        d.Length >= QuicConnectionCore.FastPathDataOffset && IsShortHeader(d) && (d[QuicConnectionCore.FastPathFrameOffset] | 1) == 0x0D;

    [Fact]
    public void Fast_path_stream_data_leaves_as_one_frame_per_packet_at_the_contract_offsets()
    {
        var payload = Payload(30_000, 3);
        var (wire, received, id, pair) = SendFastPathStream(payload);
        using var owned = pair;
        Assert.Equal(payload, received);

        var covered = new bool[payload.Length];
        int fastPathPackets = 0;
        bool finSeen = false;
        foreach (var d in wire.Where(IsFastPathPacket))
        {
            fastPathPackets++;
            Assert.Equal(0x43, d[0] & 0xDB);
            // Stream id and offset: 8-byte varints (two top bits 11), then data to the end of the packet (no Length).
            Assert.Equal(0xC0, d[QuicConnectionCore.FastPathStreamIdOffset] & 0xC0);
            Assert.Equal(0xC0, d[QuicConnectionCore.FastPathStreamOffsetOffset] & 0xC0);
            ulong streamId = BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(QuicConnectionCore.FastPathStreamIdOffset)) & 0x3FFF_FFFF_FFFF_FFFF;
            ulong offset = BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(QuicConnectionCore.FastPathStreamOffsetOffset)) & 0x3FFF_FFFF_FFFF_FFFF;
            Assert.Equal(id, streamId);
            var data = d.AsSpan(QuicConnectionCore.FastPathDataOffset);
            Assert.True(data.SequenceEqual(payload.AsSpan((int)offset, data.Length)), $"bytes at offset {offset} differ");
            for (int i = 0; i < data.Length; i++)
            {
                Assert.False(covered[(int)offset + i], "a byte was sent twice without loss");
                covered[(int)offset + i] = true;
            }
            bool fin = d[QuicConnectionCore.FastPathFrameOffset] == 0x0D;
            Assert.Equal((int)offset + data.Length == payload.Length, fin);
            finSeen |= fin;
            // The same bytes decode as exactly one STREAM frame through our own parser.
            var frames = DecodeClearText(d);
            var only = Assert.IsType<StreamFrame>(Assert.Single(frames));
            Assert.False(only.HasLength);
        }
        Assert.True(fastPathPackets >= payload.Length / 1452, $"{fastPathPackets} fast-path packets");
        Assert.True(finSeen);
        Assert.All(covered, Assert.True);
        // No other packet carried this stream's data.
        foreach (var d in wire.Where(d => IsShortHeader(d) && !IsFastPathPacket(d)))
            Assert.DoesNotContain(DecodeClearText(d), f => f is StreamFrame s && s.StreamId == id);
    }

    [Fact]
    public void A_lost_fast_path_packet_is_retransmitted_in_an_ordinary_packet()
    {
        var payload = Payload(30_000, 4);
        int fastPathSeen = 0;
        ulong droppedOffset = ulong.MaxValue;
        var (wire, received, id, pair) = SendFastPathStream(payload, drop: d =>
        {
            if (!IsFastPathPacket(d) || ++fastPathSeen != 3) return false;
            droppedOffset = BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(QuicConnectionCore.FastPathStreamOffsetOffset)) & 0x3FFF_FFFF_FFFF_FFFF;
            return true;
        });
        using var owned = pair;
        Assert.Equal(payload, received);
        Assert.NotEqual(ulong.MaxValue, droppedOffset);
        // The dropped range went again with a Length field in an ordinary packet (the relay's kernel does not clone those).
        var resent = wire.Where(d => IsShortHeader(d) && !IsFastPathPacket(d))
            .SelectMany(DecodeClearText).OfType<StreamFrame>().Where(s => s.StreamId == id).ToList();
        Assert.Contains(resent, s => s.Offset == droppedOffset && s.HasLength);
        // Only one fast-path copy of that offset exists: the lost one was not sent again in the fast-path layout.
        Assert.Single(wire.Where(IsFastPathPacket),
            d => (BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(QuicConnectionCore.FastPathStreamOffsetOffset)) & 0x3FFF_FFFF_FFFF_FFFF) == droppedOffset);
    }

    [Fact]
    public void Without_clear_text_1rtt_the_fast_path_layout_is_not_used()
    {
        var payload = Payload(10_000, 5);
        var (wire, received, _, pair) = SendFastPathStream(payload, serverPlaintext: false);
        using var owned = pair;
        Assert.Equal(payload, received);
        Assert.DoesNotContain(wire, d => IsShortHeader(d) && d.AsSpan().IndexOf(payload.AsSpan(0, 32)) >= 0);
    }
}
