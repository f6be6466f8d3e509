using System.Buffers.Binary;

namespace FastRelay.Protocols.Quic.Wire;

/// <summary>
/// A cursor over a send buffer. Writers are sized up front with the encoders' EncodedLength, so running out of room
/// is a caller bug and throws <see cref="ArgumentException"/> (receive-side code never writes).
/// </summary>
public ref struct QuicWriter
{
    private readonly Span<byte> _span;
    private int _position;

    public QuicWriter(Span<byte> destination)
    {
        _span = destination;
        _position = 0;
    }

    public readonly int Position => _position;
    public readonly int Remaining => _span.Length - _position;
    public readonly Span<byte> Written => _span[.._position];

    public void WriteVarint(ulong value) => _position += QuicVarint.Write(_span[_position..], value);

    /// <summary>Forced-length varint; <paramref name="length"/> 0 means shortest.</summary>
    public void WriteVarint(ulong value, int length) => _position += QuicVarint.Write(_span[_position..], value, length);

    public void WriteByte(byte value)
    {
        Ensure(1);
        _span[_position++] = value;
    }

    public void WriteUInt16(ushort value)
    {
        Ensure(2);
        BinaryPrimitives.WriteUInt16BigEndian(_span[_position..], value);
        _position += 2;
    }

    public void WriteUInt32(uint value)
    {
        Ensure(4);
        BinaryPrimitives.WriteUInt32BigEndian(_span[_position..], value);
        _position += 4;
    }

    public void WriteUInt64(ulong value)
    {
        Ensure(8);
        BinaryPrimitives.WriteUInt64BigEndian(_span[_position..], value);
        _position += 8;
    }

    public void WriteBytes(scoped ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_span[_position..]);
        _position += bytes.Length;
    }

    public void WriteVarintPrefixedBytes(scoped ReadOnlySpan<byte> bytes)
    {
        WriteVarint((ulong)bytes.Length);
        WriteBytes(bytes);
    }

    /// <summary>Reserves <paramref name="count"/> bytes to fill in later (e.g. a Length field) and returns them.</summary>
    public Span<byte> Reserve(int count)
    {
        Ensure(count);
        var slot = _span.Slice(_position, count);
        _position += count;
        return slot;
    }

    private readonly void Ensure(int count)
    {
        if (count > Remaining) throw new ArgumentException($"destination too short: need {count} more bytes, {Remaining} left");
    }
}
