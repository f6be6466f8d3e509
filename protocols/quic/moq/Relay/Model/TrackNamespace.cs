using System.Text;

namespace FastRelay.Protocols.Moq.Relay.Model;

/// <summary>
/// A track namespace as the relay routes it: an ordered tuple of byte fields (draft-19 §"Track Naming"). Fields are
/// opaque bytes; equality and prefix matching compare them field by field, so (foo) is a prefix of (foo, bar) but not
/// of (foobar). Immutable: the field arrays are copied in and never handed out for writing.
/// </summary>
public sealed class TrackNamespace : IEquatable<TrackNamespace>
{
    /// <summary>The draft's bound on namespace fields; more is a protocol violation upstream of us.</summary>
    public const int MaxFields = 32;

    private readonly byte[][] _fields;
    private readonly int _hash;

    public static readonly TrackNamespace Empty = new([]);

    private TrackNamespace(byte[][] fields)
    {
        _fields = fields;
        var hash = new HashCode();
        foreach (var f in fields)
        {
            hash.Add(f.Length);
            hash.AddBytes(f);
        }
        _hash = hash.ToHashCode();
    }

    public static TrackNamespace FromBytes(IEnumerable<ReadOnlyMemory<byte>> fields) =>
        new(fields.Select(f => f.ToArray()).ToArray());

    /// <summary>UTF-8 fields, the usual shape of human-chosen names (CLI, auth file, tests).</summary>
    public static TrackNamespace Of(params string[] fields) =>
        new(fields.Select(f => Encoding.UTF8.GetBytes(f)).ToArray());

    /// <summary>Parses "a/b/c" (the CLI's and auth file's spelling); an empty string is the empty namespace.</summary>
    public static TrackNamespace Parse(string path) =>
        path.Length == 0 ? Empty : Of(path.Split('/'));

    public int Count => _fields.Length;

    public ReadOnlySpan<byte> this[int index] => _fields[index];

    public IEnumerable<ReadOnlyMemory<byte>> Fields => _fields.Select(f => (ReadOnlyMemory<byte>)f);

    /// <summary>Namespace Prefix Matching: every field of this equals the same field of <paramref name="other"/>.</summary>
    public bool IsPrefixOf(TrackNamespace other)
    {
        if (_fields.Length > other._fields.Length) return false;
        for (int i = 0; i < _fields.Length; i++)
            if (!_fields[i].AsSpan().SequenceEqual(other._fields[i]))
                return false;
        return true;
    }

    /// <summary>Two prefixes overlap when one is a prefix of the other (PREFIX_OVERLAP in SUBSCRIBE_NAMESPACE).</summary>
    public bool Overlaps(TrackNamespace other) => IsPrefixOf(other) || other.IsPrefixOf(this);

    public bool Equals(TrackNamespace? other)
    {
        if (other is null) return false;
        if (ReferenceEquals(this, other)) return true;
        if (_hash != other._hash || _fields.Length != other._fields.Length) return false;
        for (int i = 0; i < _fields.Length; i++)
            if (!_fields[i].AsSpan().SequenceEqual(other._fields[i]))
                return false;
        return true;
    }

    public override bool Equals(object? obj) => Equals(obj as TrackNamespace);

    public override int GetHashCode() => _hash;

    /// <summary>Fields joined by '/', non-printable bytes escaped as %XX, so logs and status stay one line.</summary>
    public override string ToString() => string.Join('/', _fields.Select(FieldText.Escape));

    /// <summary>Bytes of all fields plus a small overhead each: what holding this namespace costs.</summary>
    public int EstimatedBytes => 32 + _fields.Sum(f => f.Length + 24);
}
