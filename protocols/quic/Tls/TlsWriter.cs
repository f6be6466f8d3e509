using System.Buffers.Binary;

namespace FastRelay.Protocols.Quic.Tls;

/// <summary>
/// Writer for TLS structures into a caller-provided span. Vector lengths are written by reserving the prefix
/// (<see cref="BeginVector"/>) and patching it (<see cref="EndVector"/>), so nothing has to be measured twice. Running out
/// of space or exceeding a prefix's range is a caller bug and throws <see cref="ArgumentException"/>, like the Wire writers.
/// </summary>
public ref struct TlsWriter
{
    private readonly Span<byte> _span;
    private int _position;

    public TlsWriter(Span<byte> destination)
    {
        _span = destination;
        _position = 0;
    }

    public readonly int Position => _position;
    public readonly Span<byte> Written => _span[.._position];

    private Span<byte> Take(int count)
    {
        if (_span.Length - _position < count) throw new ArgumentException("destination too small");
        var s = _span.Slice(_position, count);
        _position += count;
        return s;
    }

    public void WriteUInt8(byte value) => Take(1)[0] = value;
    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16BigEndian(Take(2), value);
    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32BigEndian(Take(4), value);

    public void WriteUInt24(int value)
    {
        if ((uint)value > 0xFFFFFF) throw new ArgumentException("uint24 out of range");
        var s = Take(3);
        s[0] = (byte)(value >> 16);
        s[1] = (byte)(value >> 8);
        s[2] = (byte)value;
    }

    public void WriteBytes(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Take(bytes.Length));

    /// <summary>Writes a length-prefixed opaque vector.</summary>
    public void WriteVector(int prefixLength, ReadOnlySpan<byte> bytes)
    {
        int mark = BeginVector(prefixLength);
        WriteBytes(bytes);
        EndVector(mark, prefixLength);
    }

    /// <summary>Reserves a length prefix; returns the mark to pass to <see cref="EndVector"/>.</summary>
    public int BeginVector(int prefixLength)
    {
        int mark = _position;
        Take(prefixLength);
        return mark;
    }

    public void EndVector(int mark, int prefixLength)
    {
        int length = _position - mark - prefixLength;
        var prefix = _span.Slice(mark, prefixLength);
        switch (prefixLength)
        {
            case 1:
                if (length > 0xFF) throw new ArgumentException("vector too long");
                prefix[0] = (byte)length;
                break;
            case 2:
                if (length > 0xFFFF) throw new ArgumentException("vector too long");
                BinaryPrimitives.WriteUInt16BigEndian(prefix, (ushort)length);
                break;
            default:
                if (length > 0xFFFFFF) throw new ArgumentException("vector too long");
                prefix[0] = (byte)(length >> 16);
                prefix[1] = (byte)(length >> 8);
                prefix[2] = (byte)length;
                break;
        }
    }
}
