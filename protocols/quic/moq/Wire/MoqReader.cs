using System.Runtime.CompilerServices;

namespace FastRelay.Protocols.Moq.Wire;

/// <summary>
/// A bounds-checked cursor over received bytes. Every read is a Try that returns false at the end and never throws.
/// Byte strings are slices of the source (zero copy); a hostile length is compared with what remains before anything
/// is sliced or allocated.
/// </summary>
public ref struct MoqReader
{
    private readonly ReadOnlyMemory<byte> _memory;
    private readonly ReadOnlySpan<byte> _span;
    private int _position;

    public MoqReader(ReadOnlyMemory<byte> memory)
    {
        _memory = memory;
        _span = memory.Span;
        _position = 0;
    }

    public readonly int Position => _position;
    public readonly int Remaining => _span.Length - _position;
    public readonly bool IsEnd => _position >= _span.Length;
    public readonly ReadOnlySpan<byte> RemainingSpan => _span[_position..];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadVarint(out ulong value)
    {
        if (!MoqVarint.TryRead(_span[_position..], out value, out int length)) return false;
        _position += length;
        return true;
    }

    public bool TryReadByte(out byte value)
    {
        if (_position >= _span.Length) { value = 0; return false; }
        value = _span[_position++];
        return true;
    }

    public bool TryReadUInt16(out ushort value)
    {
        if (Remaining < 2) { value = 0; return false; }
        value = (ushort)(_span[_position] << 8 | _span[_position + 1]);
        _position += 2;
        return true;
    }

    /// <summary>Slices <paramref name="length"/> bytes; false if fewer remain.</summary>
    public bool TryReadBytes(ulong length, out ReadOnlyMemory<byte> bytes)
    {
        if (length > (ulong)Remaining) { bytes = default; return false; }
        bytes = _memory.Slice(_position, (int)length);
        _position += (int)length;
        return true;
    }

    /// <summary>A varint length followed by that many bytes, with the length capped at <paramref name="maxLength"/>.</summary>
    public bool TryReadLengthPrefixed(ulong maxLength, out ReadOnlyMemory<byte> bytes, out bool tooLong)
    {
        tooLong = false;
        bytes = default;
        if (!TryReadVarint(out ulong length)) return false;
        if (length > maxLength) { tooLong = true; return false; }
        return TryReadBytes(length, out bytes);
    }

    public bool TryReadLocation(out MoqLocation location)
    {
        location = default;
        if (!TryReadVarint(out ulong group) || !TryReadVarint(out ulong obj)) return false;
        location = new MoqLocation(group, obj);
        return true;
    }

    /// <summary>Takes everything that is left.</summary>
    public ReadOnlyMemory<byte> ReadToEnd()
    {
        var rest = _memory[_position..];
        _position = _span.Length;
        return rest;
    }
}
