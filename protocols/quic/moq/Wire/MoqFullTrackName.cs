namespace FastRelay.Protocols.Moq.Wire;

/// <summary>
/// Namespace + track name (draft-19 §"Track Naming"). The name may be empty; namespace plus name is at most 4096 bytes.
/// Compared by content.
/// </summary>
public sealed class MoqFullTrackName : IEquatable<MoqFullTrackName>
{
    public const int MaxTotalLength = 4096;

    private readonly byte[] _name;

    public MoqTrackNamespace Namespace { get; }
    public ReadOnlyMemory<byte> Name => _name;

    public MoqFullTrackName(MoqTrackNamespace ns, ReadOnlySpan<byte> name)
    {
        if (ns.ByteLength + name.Length > MaxTotalLength) throw new ArgumentException("full track name over 4096 bytes");
        Namespace = ns;
        _name = name.ToArray();
    }

    public MoqFullTrackName(MoqTrackNamespace ns, string name) : this(ns, System.Text.Encoding.UTF8.GetBytes(name)) { }

    private MoqFullTrackName(MoqTrackNamespace ns, byte[] name, bool _)
    {
        Namespace = ns;
        _name = name;
    }

    /// <summary>Reads Track Namespace, Track Name Length, Track Name; over 4096 bytes in total is PROTOCOL_VIOLATION.</summary>
    public static bool TryRead(ref MoqReader reader, out MoqFullTrackName name, out MoqError error)
    {
        name = null!;
        if (!MoqTrackNamespace.TryRead(ref reader, out var ns, out error)) return false;
        if (!TryReadName(ref reader, ns.ByteLength, out var bytes, out error)) return false;
        name = new MoqFullTrackName(ns, bytes, true);
        return true;
    }

    /// <summary>Reads a Track Name Length + Track Name whose namespace already used <paramref name="namespaceLength"/> bytes.</summary>
    public static bool TryReadName(ref MoqReader reader, int namespaceLength, out byte[] name, out MoqError error)
    {
        name = Array.Empty<byte>();
        if (!reader.TryReadVarint(out ulong length)) { error = MoqError.Protocol("truncated track name"); return false; }
        if (length > (ulong)(MaxTotalLength - namespaceLength)) { error = MoqError.Protocol("full track name over 4096 bytes"); return false; }
        if (!reader.TryReadBytes(length, out var bytes)) { error = MoqError.Protocol("truncated track name"); return false; }
        name = bytes.ToArray();
        error = MoqError.None;
        return true;
    }

    public void Write(MoqWriter writer)
    {
        Namespace.Write(writer);
        writer.WriteLengthPrefixed(_name);
    }

    public bool Equals(MoqFullTrackName? other) =>
        other is not null && Namespace.Equals(other.Namespace) && _name.AsSpan().SequenceEqual(other._name);

    public override bool Equals(object? obj) => Equals(obj as MoqFullTrackName);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Namespace);
        hash.AddBytes(_name);
        return hash.ToHashCode();
    }

    /// <summary>The serialized form, e.g. <c>example.2enet-team2--report</c>.</summary>
    public override string ToString() => MoqNameFormat.Format(this);
}
