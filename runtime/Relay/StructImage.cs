using System.Buffers.Binary;
using FastRelay.Generated;

namespace FastRelay.Relay;

/// <summary>
/// The bytes of one kernel struct, read and written member by member through the layout the generator recorded
/// (<see cref="SharedStructLayout"/>). The generic host uses it where a protocol's typed mirrors are not available at
/// compile time: a descriptor loaded from a user's assembly at run time. Integers are in host order, as the BPF
/// programs read them; members that hold network-order values (ports) are written as bytes by the caller.
/// </summary>
public sealed class StructImage
{
    private readonly SharedStructLayout _layout;

    public StructImage(SharedStructLayout layout, byte[]? bytes = null)
    {
        _layout = layout;
        if (bytes is not null && bytes.Length != layout.Size)
            throw new ArgumentException($"{layout.CName} is {layout.Size} bytes, got {bytes.Length}", nameof(bytes));
        Bytes = bytes ?? new byte[layout.Size];
    }

    public byte[] Bytes { get; }

    public SharedStructLayout Layout => _layout;

    public bool Has(string member) => _layout.Fields.Any(f => f.CName == member);

    /// <summary>The member's bytes (all of it: an array member or a nested struct included).</summary>
    public Span<byte> Member(string member)
    {
        var field = Field(member);
        return Bytes.AsSpan(field.Offset, field.Size);
    }

    /// <summary>Writes an unsigned integer member of 1, 2, 4 or 8 bytes; a value that does not fit is an error, not
    /// silently truncated (a channel id of 70000 in a 16-bit key would otherwise select another channel).</summary>
    public StructImage Set(string member, ulong value)
    {
        var span = Member(member);
        if (span.Length < 8 && value >> (span.Length * 8) != 0)
            throw new ArgumentOutOfRangeException(nameof(value), $"{value} does not fit {_layout.CName}.{member} ({span.Length} bytes)");
        switch (span.Length)
        {
            case 1: span[0] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)value); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)value); break;
            case 8: BinaryPrimitives.WriteUInt64LittleEndian(span, value); break;
            default: throw new InvalidOperationException($"{_layout.CName}.{member} is {span.Length} bytes, not an integer");
        }
        return this;
    }

    public ulong Get(string member)
    {
        ReadOnlySpan<byte> span = Member(member);
        return span.Length switch
        {
            1 => span[0],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(span),
            4 => BinaryPrimitives.ReadUInt32LittleEndian(span),
            8 => BinaryPrimitives.ReadUInt64LittleEndian(span),
            _ => throw new InvalidOperationException($"{_layout.CName}.{member} is {span.Length} bytes, not an integer"),
        };
    }

    /// <summary>Copies <paramref name="value"/> into the member; it must fill it exactly (a nested struct, an address).</summary>
    public StructImage SetBytes(string member, ReadOnlySpan<byte> value)
    {
        var span = Member(member);
        if (value.Length != span.Length)
            throw new ArgumentException($"{_layout.CName}.{member} is {span.Length} bytes, got {value.Length}");
        value.CopyTo(span);
        return this;
    }

    /// <summary>Element <paramref name="index"/> of an array member of 4-byte unsigned integers (fr_channel.slots).</summary>
    public StructImage SetUInt32At(string member, int index, uint value)
    {
        var span = Member(member);
        if (index < 0 || (index + 1) * 4 > span.Length)
            throw new ArgumentOutOfRangeException(nameof(index), $"{_layout.CName}.{member} holds {span.Length / 4} entries");
        BinaryPrimitives.WriteUInt32LittleEndian(span[(index * 4)..], value);
        return this;
    }

    private SharedFieldLayout Field(string member) =>
        _layout.Fields.FirstOrDefault(f => f.CName == member)
        ?? throw new InvalidOperationException($"{_layout.CName} has no member '{member}' in this protocol's layout");
}
