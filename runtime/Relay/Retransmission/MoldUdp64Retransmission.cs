using System.Buffers.Binary;

namespace FastRelay.Relay.Retransmission;

/// <summary>
/// Nasdaq MoldUDP64 (Protocol Specification 1.00) re-requests. A downstream packet is session (10 ASCII bytes),
/// sequence number of its first message (u64 BE), message count (u16 BE), message blocks; a request packet is exactly
/// the 20-byte header: session, first sequence number wanted, requested message count. The answer is the original
/// downstream packets that hold the requested messages, unicast to the requester. The channel is session bytes 2..9 as a
/// big-endian integer, as the example descriptor's <c>[Channel(2)]</c> keys it.
/// </summary>
public sealed class MoldUdp64Retransmission : IRetransmissionFormat
{
    public const string FormatName = "moldudp64";
    public const int HeaderLength = 20;
    private const int SessionLength = 10;

    /// <summary>A message count of 0 is a heartbeat, 0xFFFF the end of session: neither carries messages.</summary>
    private const ushort EndOfSession = 0xFFFF;

    public string Name => FormatName;

    public string? TryParseRequest(ReadOnlySpan<byte> datagram, out RetransmitRequest request)
    {
        request = default;
        if (datagram.Length != HeaderLength)
            return $"a request is exactly {HeaderLength} bytes, this one has {datagram.Length}";
        var count = BinaryPrimitives.ReadUInt16BigEndian(datagram[18..]);
        if (count is 0 or EndOfSession)
            return $"requested message count {count} asks for nothing";
        var first = BinaryPrimitives.ReadUInt64BigEndian(datagram[10..]);
        if (first == 0)
            return "sequence numbers start at 1";
        if (first > ulong.MaxValue - count)
            return "the requested range runs past the largest sequence number";
        request = new RetransmitRequest(Channel(datagram), first, count);
        return null;
    }

    public bool TryDescribe(ReadOnlySpan<byte> upstream, out SequenceSpan span)
    {
        span = default;
        if (upstream.Length < HeaderLength)
            return false;
        var count = BinaryPrimitives.ReadUInt16BigEndian(upstream[18..]);
        var first = BinaryPrimitives.ReadUInt64BigEndian(upstream[10..]);
        if (count is 0 or EndOfSession || first > ulong.MaxValue - count)
            return false;
        span = new SequenceSpan(Channel(upstream), first, count);
        return true;
    }

    public bool Answers(ReadOnlySpan<byte> request, ReadOnlySpan<byte> kept) =>
        request.Length >= SessionLength && kept.Length >= SessionLength && request[..SessionLength].SequenceEqual(kept[..SessionLength]);

    private static ulong Channel(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadUInt64BigEndian(header[2..]);
}
