namespace FastRelay.Protocols.Moq.Wire;

/// <summary>
/// A Track Namespace (draft-19 §"Track Naming"): 0..32 non-empty byte-string fields, at most 4096 bytes in total.
/// Compared by content, so it can key dictionaries. Fields are owned copies (never slices of a receive buffer).
/// </summary>
public sealed class MoqTrackNamespace : IEquatable<MoqTrackNamespace>
{
    public const int MaxFields = 32;
    public const int MaxTotalLength = 4096;

    private readonly byte[][] _fields;

    public static MoqTrackNamespace Empty { get; } = new(Array.Empty<byte[]>(), validate: false);

    public MoqTrackNamespace(IEnumerable<byte[]> fields) : this(fields.Select(f => (byte[])f.Clone()).ToArray(), validate: true) { }

    /// <summary>Fields from UTF-8 text, e.g. <c>MoqTrackNamespace.FromStrings("example.net", "live")</c>.</summary>
    public static MoqTrackNamespace FromStrings(params string[] fields) =>
        new(fields.Select(f => System.Text.Encoding.UTF8.GetBytes(f)).ToArray(), validate: true);

    private MoqTrackNamespace(byte[][] fields, bool validate)
    {
        if (validate)
        {
            if (fields.Length > MaxFields) throw new ArgumentException("more than 32 namespace fields");
            if (fields.Any(f => f.Length == 0)) throw new ArgumentException("empty namespace field");
            if (fields.Sum(f => (long)f.Length) > MaxTotalLength) throw new ArgumentException("namespace over 4096 bytes");
        }
        _fields = fields;
    }

    public int Count => _fields.Length;
    public ReadOnlySpan<byte> this[int index] => _fields[index];
    public IEnumerable<ReadOnlyMemory<byte>> Fields => _fields.Select(f => (ReadOnlyMemory<byte>)f);

    /// <summary>Sum of the field lengths (what the 4096-byte limits count).</summary>
    public int ByteLength => _fields.Sum(f => f.Length);

    /// <summary>True when this namespace's fields start with all of <paramref name="prefix"/>'s fields.</summary>
    public bool StartsWith(MoqTrackNamespace prefix)
    {
        if (prefix.Count > Count) return false;
        for (int i = 0; i < prefix.Count; i++) if (!_fields[i].AsSpan().SequenceEqual(prefix._fields[i])) return false;
        return true;
    }

    /// <summary>The fields after <paramref name="prefix"/> (NAMESPACE carries suffixes).</summary>
    public MoqTrackNamespace Suffix(int prefixCount) => new(_fields[prefixCount..], validate: false);

    /// <summary>This namespace followed by <paramref name="suffix"/>; throws if the result exceeds the draft's limits.</summary>
    public MoqTrackNamespace Append(MoqTrackNamespace suffix) => new(_fields.Concat(suffix._fields).ToArray(), validate: true);

    /// <summary>
    /// Reads a namespace; more than <paramref name="maxFields"/> (32) fields, an empty field or over 4096 bytes is
    /// PROTOCOL_VIOLATION. Nothing is allocated before the count is checked.
    /// </summary>
    public static bool TryRead(ref MoqReader reader, out MoqTrackNamespace ns, out MoqError error, int maxFields = MaxFields)
    {
        ns = Empty;
        if (!reader.TryReadVarint(out ulong count)) { error = MoqError.Protocol("truncated namespace"); return false; }
        if (count > (ulong)maxFields) { error = MoqError.Protocol("namespace has more than 32 fields"); return false; }
        if (count == 0) { error = MoqError.None; return true; }
        var fields = new byte[count][];
        int total = 0;
        for (int i = 0; i < (int)count; i++)
        {
            if (!reader.TryReadVarint(out ulong length)) { error = MoqError.Protocol("truncated namespace field"); return false; }
            if (length == 0) { error = MoqError.Protocol("empty namespace field"); return false; }
            if (length > MaxTotalLength || total + (int)length > MaxTotalLength) { error = MoqError.Protocol("namespace over 4096 bytes"); return false; }
            if (!reader.TryReadBytes(length, out var bytes)) { error = MoqError.Protocol("truncated namespace field"); return false; }
            total += (int)length;
            fields[i] = bytes.ToArray();
        }
        ns = new MoqTrackNamespace(fields, validate: false);
        error = MoqError.None;
        return true;
    }

    public void Write(MoqWriter writer)
    {
        writer.WriteVarint((ulong)_fields.Length);
        foreach (var f in _fields) writer.WriteLengthPrefixed(f);
    }

    public bool Equals(MoqTrackNamespace? other)
    {
        if (other is null || other.Count != Count) return false;
        for (int i = 0; i < Count; i++) if (!_fields[i].AsSpan().SequenceEqual(other._fields[i])) return false;
        return true;
    }

    public override bool Equals(object? obj) => Equals(obj as MoqTrackNamespace);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var f in _fields) { hash.AddBytes(f); hash.Add(f.Length); }
        return hash.ToHashCode();
    }

    /// <summary>The serialized form (§"Representing Namespace and Track Names"), e.g. <c>example.2enet-live</c>.</summary>
    public override string ToString() => MoqNameFormat.FormatNamespace(this);
}
