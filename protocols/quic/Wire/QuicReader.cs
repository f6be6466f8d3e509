using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace FastRelay.Protocols.Quic.Wire;

/// <summary>
/// A bounds-checked cursor over a received buffer. Every read is a Try: running off the end returns false and never
/// throws. Byte strings come back as <see cref="ReadOnlyMemory{T}"/> slices of the source (zero copy), so parsed frames
/// can outlive the reader without allocating; lengths are checked against the remaining bytes before anything is
/// sliced, so a hostile length can never cause an allocation.
/// </summary>
public ref struct QuicReader
{
    private readonly ReadOnlyMemory<byte> _memory;
    private readonly ReadOnlySpan<byte> _span;
    private int _position;

    public QuicReader(ReadOnlyMemory<byte> memory)
    {
        _memory = memory;
        _span = memory.Span;
        _position = 0;
    }

    public readonly int Position => _position;
    public readonly int Remaining => _span.Length - _position;
    public readonly bool IsEnd => _position >= _span.Length;
    public readonly ReadOnlySpan<byte> RemainingSpan => _span[_position..];
    public readonly ReadOnlyMemory<byte> RemainingMemory => _memory[_position..];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadVarint(out ulong value)
    {
        if (!QuicVarint.TryRead(_span[_position..], out value, out int length)) return false;
        _position += length;
        return true;
    }

    /// <summary>Reads a varint and reports its encoded length (frame types must be minimally encoded).</summary>
    public bool TryReadVarint(out ulong value, out int length)
    {
        if (!QuicVarint.TryRead(_span[_position..], out value, out length)) return false;
        _position += length;
        return true;
    }

    public bool TryReadByte(out byte value)
    {
        if (_position >= _span.Length) { value = 0; return false; }
        value = _span[_position++];
        return true;
    }

    public bool TryPeekByte(out byte value)
    {
        if (_position >= _span.Length) { value = 0; return false; }
        value = _span[_position];
        return true;
    }

    public bool TryReadUInt16(out ushort value)
    {
        if (Remaining < 2) { value = 0; return false; }
        value = BinaryPrimitives.ReadUInt16BigEndian(_span[_position..]);
        _position += 2;
        return true;
    }

    public bool TryReadUInt32(out uint value)
    {
        if (Remaining < 4) { value = 0; return false; }
        value = BinaryPrimitives.ReadUInt32BigEndian(_span[_position..]);
        _position += 4;
        return true;
    }

    public bool TryReadUInt64(out ulong value)
    {
        if (Remaining < 8) { value = 0; return false; }
        value = BinaryPrimitives.ReadUInt64BigEndian(_span[_position..]);
        _position += 8;
        return true;
    }

    /// <summary>Slices <paramref name="length"/> bytes; false if fewer remain (the length may be any hostile ulong).</summary>
    public bool TryReadBytes(ulong length, out ReadOnlyMemory<byte> bytes)
    {
        if (length > (ulong)Remaining) { bytes = default; return false; }
        bytes = _memory.Slice(_position, (int)length);
        _position += (int)length;
        return true;
    }

    /// <summary>Reads a length-prefixed (varint) byte string.</summary>
    public bool TryReadVarintPrefixedBytes(out ReadOnlyMemory<byte> bytes)
    {
        int start = _position;
        if (TryReadVarint(out ulong length) && TryReadBytes(length, out bytes)) return true;
        _position = start;
        bytes = default;
        return false;
    }

    /// <summary>Takes everything that is left.</summary>
    public ReadOnlyMemory<byte> ReadToEnd()
    {
        var rest = _memory[_position..];
        _position = _span.Length;
        return rest;
    }

    public bool TrySkip(int count)
    {
        if (count < 0 || count > Remaining) return false;
        _position += count;
        return true;
    }
}
