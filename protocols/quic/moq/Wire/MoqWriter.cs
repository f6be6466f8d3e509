using System.Text;

namespace FastRelay.Protocols.Moq.Wire;

/// <summary>
/// A growable send buffer for building control messages and object headers. Only our own values are written here, so
/// a value the draft does not allow (e.g. a control message over 65535 bytes) is a caller bug and throws.
/// </summary>
public sealed class MoqWriter
{
    private byte[] _buffer;
    private int _length;

    public MoqWriter(int initialCapacity = 256) => _buffer = new byte[Math.Max(16, initialCapacity)];

    public int Length => _length;
    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);
    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _length);
    public byte[] ToArray() => WrittenSpan.ToArray();
    public void Clear() => _length = 0;

    private Span<byte> Reserve(int count)
    {
        if (_length + count > _buffer.Length)
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        var span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }

    public void WriteVarint(ulong value) => MoqVarint.Write(Reserve(MoqVarint.GetLength(value)), value);

    public void WriteByte(byte value) => Reserve(1)[0] = value;

    public void WriteUInt16(ushort value)
    {
        var s = Reserve(2);
        s[0] = (byte)(value >> 8);
        s[1] = (byte)value;
    }

    public void WriteBytes(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Reserve(bytes.Length));

    /// <summary>A varint length followed by the bytes.</summary>
    public void WriteLengthPrefixed(ReadOnlySpan<byte> bytes)
    {
        WriteVarint((ulong)bytes.Length);
        WriteBytes(bytes);
    }

    public void WriteLengthPrefixedUtf8(string text) => WriteLengthPrefixed(Encoding.UTF8.GetBytes(text));

    public void WriteLocation(MoqLocation location)
    {
        WriteVarint(location.Group);
        WriteVarint(location.Object);
    }

    /// <summary>Starts a 16-bit length field to be filled by <see cref="EndUInt16Length"/>; returns its position.</summary>
    public int BeginUInt16Length()
    {
        int at = _length;
        Reserve(2);
        return at;
    }

    public void EndUInt16Length(int at)
    {
        int body = _length - at - 2;
        if (body > ushort.MaxValue) throw new InvalidOperationException($"control message body of {body} bytes exceeds 65535");
        _buffer[at] = (byte)(body >> 8);
        _buffer[at + 1] = (byte)body;
    }
}
