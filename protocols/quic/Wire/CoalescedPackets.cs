namespace FastRelay.Protocols.Quic.Wire;

/// <summary>
/// Splits a UDP datagram into its coalesced QUIC packets (RFC 9000 §12.2) without allocating:
/// <code>
/// var packets = new CoalescedPackets(datagram, cidLength);
/// while (packets.TryGetNext(out var header, out var packet)) { ... }
/// if (!packets.Error.IsNone) { /* rest of the datagram dropped */ }
/// </code>
/// A packet that cannot be parsed ends the iteration (its length, and so where the next packet starts, is unknown);
/// the packets before it remain valid. Packets with a destination connection id different from the first
/// packet's are reported through <see cref="PacketHeader"/> and should be dropped by the caller (§12.2).
/// </summary>
public struct CoalescedPackets
{
    private readonly ReadOnlyMemory<byte> _datagram;
    private readonly int _shortHeaderConnectionIdLength;
    private int _offset;

    public CoalescedPackets(ReadOnlyMemory<byte> datagram, int shortHeaderConnectionIdLength)
    {
        _datagram = datagram;
        _shortHeaderConnectionIdLength = shortHeaderConnectionIdLength;
        _offset = 0;
        Error = default;
        Count = 0;
    }

    /// <summary>Why the iteration stopped early, if it did.</summary>
    public QuicError Error { get; private set; }

    public int Count { get; private set; }

    /// <summary>Offset of the next packet within the datagram.</summary>
    public readonly int Offset => _offset;

    public bool TryGetNext(out PacketHeader header, out ReadOnlyMemory<byte> packet)
    {
        packet = default;
        header = default;
        if (_offset >= _datagram.Length || !Error.IsNone) return false;
        var rest = _datagram[_offset..];
        // RFC 9000 §12.2: receivers MAY drop trailing padding after a coalesced packet; a zero byte cannot start a
        // QUIC packet (fixed bit unset), so trailing zeros end the datagram quietly.
        if (Count > 0 && rest.Span[0] == 0 && !rest.Span.ContainsAnyExcept((byte)0)) { _offset = _datagram.Length; return false; }
        if (!PacketHeaderParser.TryParse(rest, _shortHeaderConnectionIdLength, out header, out var error))
        {
            Error = error;
            _offset = _datagram.Length;
            return false;
        }
        packet = rest[..header.PacketLength];
        _offset += header.PacketLength;
        Count++;
        return true;
    }
}
