using System.Buffers.Binary;
using FastRelay.Protocols.Moq.Clients;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Streams;

namespace FastRelay.Cli.Bench.Moq.Floor;

/// <summary>One object of the floor's stream: when it is due, its MoQ payload size and the UDP payload sizes of the
/// datagrams our publisher would send it in.</summary>
public sealed record FloorObject(ulong Sequence, long DueMicroseconds, int PayloadBytes, int[] DatagramBytes);

/// <summary>What a floor receiver reads from the front of a floor datagram.</summary>
public readonly record struct FloorDatagramHeader(ulong ObjectSequence, int Index, int Count, long SendTicks);

/// <summary>
/// How the kernel floor cuts a MoQ object into datagrams, and what each datagram carries. The sizes are those of the
/// fast-path packets our publisher sends (protocols/quic/QuicMoqHeader.cs): each packet is a 30-byte fixed header
/// (short header with an 8-byte connection id and a 4-byte packet number, then a STREAM frame header with 8-byte stream
/// id and offset) followed by up to <see cref="MaxStreamBytesPerDatagram"/> bytes of the subgroup stream, filled to the
/// datagram size a fast-path relay asks its peers for (RelayFastPath.MaxReceiveUdpPayloadSize: 1452, the stack's
/// default, less the 16 bytes of a sealing relay's tag): 1436. The stream
/// bytes of an object are its MoQ object header (object id delta and payload length, QUIC-style varints) and its
/// payload. What this leaves out, and says so: the subgroup header at the start of each subgroup stream (a few bytes,
/// once a subgroup), and the packets a congestion window or a retransmission would cut differently.
/// <para>The floor's own fields take the place of the QUIC header (the kernel does not read them; the receivers do):
/// magic "MQFL", object sequence (u64), datagram index and count within the object (u16 each), and the object's send
/// time (i64 Stopwatch ticks, CLOCK_MONOTONIC on Linux, the same clock in every namespace), all big-endian.</para>
/// </summary>
public static class FloorDatagrams
{
    /// <summary>The fast-path packet's fixed header: first byte, 8-byte connection id, 4-byte packet number, STREAM frame header.</summary>
    public const int PacketHeaderBytes = 1 + 8 + 4 + StreamTable.FastPathFrameHeaderLength;

    /// <summary>The UDP payload of our publisher's fullest fast-path packet to a fast-path relay: what the relay asks for.</summary>
    public const int MaxDatagramBytes = FastRelay.Protocols.Moq.Relay.FastPath.RelayFastPath.MaxReceiveUdpPayloadSize;

    public const int MaxStreamBytesPerDatagram = MaxDatagramBytes - PacketHeaderBytes;

    /// <summary>Datagrams one object may take (a 1 MiB object is 738): more is not a floor datagram.</summary>
    public const int MaxDatagramsPerObject = 1024;

    public const int FloorHeaderBytes = 24;
    private const uint Magic = 0x4D51464C; // "MQFL"

    /// <summary>The objects of <paramref name="track"/> as the floor sends them, from the first on.</summary>
    public static IEnumerable<FloorObject> Plan(SyntheticTrack track)
    {
        // Object id of the last object written on each subgroup stream: the header's Object ID Delta is relative to it.
        var previous = new Dictionary<ulong, ulong>();
        foreach (var o in track.Objects())
        {
            var delta = o.OpensSubgroup || !previous.TryGetValue(o.SubgroupId, out var p) ? o.ObjectId : o.ObjectId - p - 1;
            previous[o.SubgroupId] = o.ObjectId;
            var streamBytes = MoqVarint.GetLength(delta) + MoqVarint.GetLength((ulong)o.Size) + o.Size;
            yield return new FloorObject(o.TrackSequence, o.DueMicroseconds, o.Size, Cut(streamBytes));
        }
    }

    /// <summary>UDP payload sizes of the datagrams carrying <paramref name="streamBytes"/> bytes of one subgroup stream.</summary>
    public static int[] Cut(int streamBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(streamBytes);
        var count = (streamBytes + MaxStreamBytesPerDatagram - 1) / MaxStreamBytesPerDatagram;
        var sizes = new int[count];
        for (var i = 0; i < count; i++)
            sizes[i] = PacketHeaderBytes + Math.Min(MaxStreamBytesPerDatagram, streamBytes - i * MaxStreamBytesPerDatagram);
        return sizes;
    }

    public static void WriteHeader(Span<byte> datagram, in FloorDatagramHeader header)
    {
        BinaryPrimitives.WriteUInt32BigEndian(datagram, Magic);
        BinaryPrimitives.WriteUInt64BigEndian(datagram[4..], header.ObjectSequence);
        BinaryPrimitives.WriteUInt16BigEndian(datagram[12..], (ushort)header.Index);
        BinaryPrimitives.WriteUInt16BigEndian(datagram[14..], (ushort)header.Count);
        BinaryPrimitives.WriteInt64BigEndian(datagram[16..], header.SendTicks);
    }

    /// <summary>False for anything that is not a well-formed floor datagram (short, other magic, index out of range).</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> datagram, out FloorDatagramHeader header)
    {
        header = default;
        if (datagram.Length < FloorHeaderBytes || BinaryPrimitives.ReadUInt32BigEndian(datagram) != Magic) return false;
        var index = BinaryPrimitives.ReadUInt16BigEndian(datagram[12..]);
        var count = BinaryPrimitives.ReadUInt16BigEndian(datagram[14..]);
        if (count is 0 or > MaxDatagramsPerObject || index >= count) return false;
        header = new FloorDatagramHeader(BinaryPrimitives.ReadUInt64BigEndian(datagram[4..]), index, count, BinaryPrimitives.ReadInt64BigEndian(datagram[16..]));
        return true;
    }
}
