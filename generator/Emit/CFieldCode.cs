using System.Collections.Generic;
using System.Globalization;
using FastRelay.Generator.Model;

namespace FastRelay.Generator.Emit;

/// <summary>C expressions and statements that read and write a descriptor field in a stack copy of the header
/// (<c>h</c>). Built byte by byte: the copy has no alignment guarantee and the verifier prefers plain loads.</summary>
internal static class CFieldCode
{
    /// <summary>An expression of type __u64 holding the field's unsigned value in host order.</summary>
    public static string Read(FieldSpec field)
    {
        var parts = new List<string>();
        for (var i = 0; i < field.Width; i++)
        {
            var index = field.Offset + i;
            var shift = field.Encoding == FieldEncoding.LittleEndian ? 8 * i : 8 * (field.Width - 1 - i);
            var load = i == 0 && field.Encoding == FieldEncoding.QuicVarint
                ? $"(__u64)(h[{index}] & 0x3f)"
                : $"(__u64)h[{index}]";
            parts.Add(shift == 0 ? load : $"{load} << {shift}");
        }
        return parts.Count == 1 ? parts[0] : "(" + string.Join(" | ", parts) + ")";
    }

    /// <summary>Statements storing <c>v</c> (a __u64) into the field; a QUIC varint keeps its forced length prefix.</summary>
    public static IEnumerable<string> Write(FieldSpec field)
    {
        if (field.Encoding == FieldEncoding.QuicVarint)
            yield return $"v &= {Hex(VarintMaxValue(field.Width))}ULL; /* the forced {field.Width}-byte varint holds {VarintBits(field.Width)} bits */";
        for (var i = 0; i < field.Width; i++)
        {
            var index = field.Offset + i;
            var shift = field.Encoding == FieldEncoding.LittleEndian ? 8 * i : 8 * (field.Width - 1 - i);
            var value = shift == 0 ? "v" : $"v >> {shift}";
            var prefix = i == 0 && field.Encoding == FieldEncoding.QuicVarint ? $" | {Hex(VarintPrefix(field.Width))}" : "";
            yield return $"h[{index}] = (__u8)({value}){prefix};";
        }
    }

    /// <summary>A condition that holds when the match constraint is satisfied.</summary>
    public static string MatchCondition(FieldSpec match)
    {
        var fieldMask = match.Width >= 8 ? ulong.MaxValue : (1UL << (match.Width * 8)) - 1;
        var mask = match.MatchMask & fieldMask;
        var read = Read(match);
        var masked = mask == fieldMask ? read : $"({read} & {Hex(mask)}ULL)";
        return $"{masked} == {Hex(match.MatchValue)}ULL";
    }

    /// <summary>The largest value the field can hold on the wire.</summary>
    public static ulong MaxValue(FieldSpec field) => field.Encoding == FieldEncoding.QuicVarint
        ? VarintMaxValue(field.Width)
        : field.Width >= 8 ? ulong.MaxValue : (1UL << (field.Width * 8)) - 1;

    public static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    private static int VarintBits(int width) => width * 8 - 2;

    private static ulong VarintMaxValue(int width) => (1UL << VarintBits(width)) - 1;

    private static ulong VarintPrefix(int width) => width switch
    {
        1 => 0x00,
        2 => 0x40,
        4 => 0x80,
        _ => 0xc0,
    };
}
