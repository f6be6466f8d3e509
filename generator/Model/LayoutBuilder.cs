using System;
using System.Collections.Generic;

namespace FastRelay.Generator.Model;

/// <summary>Lays out a struct with C's natural alignment and records the padding as explicit members, so the C
/// emitter and the C# emitter print the same offsets without either relying on the other compiler's rules.</summary>
internal sealed class LayoutBuilder
{
    private readonly string _cName;
    private readonly string _clrName;
    private readonly string _comment;
    private readonly List<SharedMember> _members = new();
    private int _offset;
    private int _alignment = 1;
    private int _padCount;

    public LayoutBuilder(string cName, string clrName, string comment)
    {
        _cName = cName;
        _clrName = clrName;
        _comment = comment;
    }

    public LayoutBuilder Scalar(string cName, string clrName, ScalarKind kind, string comment = "") =>
        Add(cName, clrName, kind, 1, ScalarSize(kind), ScalarSize(kind), null, comment);

    public LayoutBuilder Array(string cName, string clrName, ScalarKind kind, int count, string comment = "") =>
        Add(cName, clrName, kind, count, ScalarSize(kind) * count, ScalarSize(kind), null, comment);

    public LayoutBuilder Nested(string cName, string clrName, SharedStruct nested, string comment = "") =>
        Add(cName, clrName, ScalarKind.Struct, 1, nested.Size, nested.Alignment, nested.CName, comment);

    public SharedStruct Build()
    {
        PadTo(_alignment);
        return new SharedStruct(_cName, _clrName, _comment, _offset, _alignment, _members.ToEquatableArray());
    }

    /// <summary>Pads the struct so far up to a multiple of <paramref name="alignment"/> (used to keep a tail
    /// array's struct a whole number of words).</summary>
    public LayoutBuilder PadTo(int alignment)
    {
        var padded = Align(_offset, alignment);
        if (padded > _offset)
        {
            var pad = padded - _offset;
            _members.Add(new SharedMember("_pad" + _padCount, "_pad" + _padCount, ScalarKind.U8, pad, _offset, pad, null, ""));
            _padCount++;
            _offset = padded;
        }
        return this;
    }

    private LayoutBuilder Add(string cName, string clrName, ScalarKind kind, int count, int size, int alignment, string? structName, string comment)
    {
        PadTo(alignment);
        _members.Add(new SharedMember(cName, clrName, kind, count, _offset, size, structName, comment));
        _offset += size;
        _alignment = Math.Max(_alignment, alignment);
        return this;
    }

    public static int ScalarSize(ScalarKind kind) => kind switch
    {
        ScalarKind.U8 => 1,
        ScalarKind.U16 or ScalarKind.Be16 => 2,
        ScalarKind.U32 => 4,
        ScalarKind.U64 or ScalarKind.S64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static int Align(int value, int alignment) => (value + alignment - 1) / alignment * alignment;
}
