using System.Buffers.Binary;

namespace FastRelay.Protocols.Quic.Tls;

/// <summary>
/// Bounds-checked cursor for TLS presentation-language structures (big-endian integers, vectors with 1/2/3-byte length
/// prefixes). Every read is a Try and never throws; vectors come back as <see cref="ReadOnlyMemory{T}"/> slices of the
/// source (zero copy) after their length has been checked against the remaining bytes.
/// </summary>
public ref struct TlsReader
{
    private readonly ReadOnlyMemory<byte> _memory;
    private readonly ReadOnlySpan<byte> _span;
    private int _position;

    public TlsReader(ReadOnlyMemory<byte> memory)
    {
        _memory = memory;
        _span = memory.Span;
        _position = 0;
    }

    public readonly int Position => _position;
    public readonly int Remaining => _span.Length - _position;
    public readonly bool IsEnd => _position >= _span.Length;

    public bool TryReadUInt8(out byte value)
    {
        if (Remaining < 1) { value = 0; return false; }
        value = _span[_position++];
        return true;
    }

    public bool TryReadUInt16(out ushort value)
    {
        if (Remaining < 2) { value = 0; return false; }
        value = BinaryPrimitives.ReadUInt16BigEndian(_span[_position..]);
        _position += 2;
        return true;
    }

    public bool TryReadUInt24(out int value)
    {
        if (Remaining < 3) { value = 0; return false; }
        value = (_span[_position] << 16) | (_span[_position + 1] << 8) | _span[_position + 2];
        _position += 3;
        return true;
    }

    public bool TryReadUInt32(out uint value)
    {
        if (Remaining < 4) { value = 0; return false; }
        value = BinaryPrimitives.ReadUInt32BigEndian(_span[_position..]);
        _position += 4;
        return true;
    }

    public bool TryReadBytes(int length, out ReadOnlyMemory<byte> value)
    {
        if (length < 0 || Remaining < length) { value = default; return false; }
        value = _memory.Slice(_position, length);
        _position += length;
        return true;
    }

    /// <summary>Reads an opaque vector whose length prefix has <paramref name="prefixLength"/> (1, 2 or 3) bytes and checks min/max.</summary>
    public bool TryReadVector(int prefixLength, int min, int max, out ReadOnlyMemory<byte> value)
    {
        value = default;
        int length;
        switch (prefixLength)
        {
            case 1: if (!TryReadUInt8(out byte b)) return false; length = b; break;
            case 2: if (!TryReadUInt16(out ushort s)) return false; length = s; break;
            default: if (!TryReadUInt24(out length)) return false; break;
        }
        if (length < min || length > max) return false;
        return TryReadBytes(length, out value);
    }
}
