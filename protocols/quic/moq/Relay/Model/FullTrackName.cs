using System.Text;

namespace FastRelay.Protocols.Moq.Relay.Model;

/// <summary>Namespace + track name: what identifies a track everywhere in the relay.</summary>
public sealed class FullTrackName : IEquatable<FullTrackName>
{
    private readonly byte[] _name;
    private readonly int _hash;

    public FullTrackName(TrackNamespace ns, ReadOnlySpan<byte> name)
    {
        Namespace = ns;
        _name = name.ToArray();
        var hash = new HashCode();
        hash.Add(ns);
        hash.AddBytes(_name);
        _hash = hash.ToHashCode();
    }

    public static FullTrackName Of(string ns, string name) => new(TrackNamespace.Parse(ns), Encoding.UTF8.GetBytes(name));

    public TrackNamespace Namespace { get; }

    public ReadOnlySpan<byte> Name => _name;

    public ReadOnlyMemory<byte> NameMemory => _name;

    public bool Equals(FullTrackName? other) =>
        other is not null && _hash == other._hash && Namespace.Equals(other.Namespace) && _name.AsSpan().SequenceEqual(other._name);

    public override bool Equals(object? obj) => Equals(obj as FullTrackName);

    public override int GetHashCode() => _hash;

    public override string ToString() => $"{Namespace}:{FieldText.Escape(_name)}";

    public int EstimatedBytes => Namespace.EstimatedBytes + _name.Length + 24;
}
