using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Model;

namespace FastRelay.Protocols.Moq.Relay.Routing;

/// <summary>
/// Values registered at namespaces, found by Namespace Prefix Matching in either direction: the values registered at
/// every prefix of a namespace (which publishers can serve a track), and the values registered at or under a prefix
/// (which namespaces a SUBSCRIBE_NAMESPACE matches). One node per field; a node that holds nothing and has no
/// children is removed at once, so registrations that come and go leave no state behind (<see cref="NodeCount"/>).
/// Not thread-safe: the owner locks.
/// </summary>
public sealed class NamespaceTrie<T> where T : class
{
    private sealed class Node
    {
        public Dictionary<byte[], Node>? Children;
        public List<T>? Values;
        public bool IsEmpty => (Children is null || Children.Count == 0) && (Values is null || Values.Count == 0);
    }

    private readonly Node _root = new();

    /// <summary>Nodes below the root: what the trie holds, for leak tests and the status view.</summary>
    public int NodeCount { get; private set; }

    public int ValueCount { get; private set; }

    public void Add(MoqTrackNamespace ns, T value)
    {
        var node = _root;
        for (int i = 0; i < ns.Count; i++)
        {
            node.Children ??= new Dictionary<byte[], Node>(ByteArrayComparer.Instance);
            var key = ns[i].ToArray();
            if (!node.Children.TryGetValue(key, out var child))
            {
                child = new Node();
                node.Children.Add(key, child);
                NodeCount++;
            }
            node = child;
        }
        (node.Values ??= []).Add(value);
        ValueCount++;
    }

    /// <summary>Removes one registration of <paramref name="value"/> at exactly <paramref name="ns"/>; prunes empty nodes.</summary>
    public bool Remove(MoqTrackNamespace ns, T value)
    {
        var path = new Node[ns.Count + 1];
        path[0] = _root;
        for (int i = 0; i < ns.Count; i++)
        {
            if (path[i].Children is not { } children || !children.TryGetValue(ns[i].ToArray(), out var child))
                return false;
            path[i + 1] = child;
        }
        var target = path[ns.Count];
        if (target.Values is null || !target.Values.Remove(value))
            return false;
        ValueCount--;
        for (int i = ns.Count; i > 0 && path[i].IsEmpty; i--)
        {
            path[i - 1].Children!.Remove(ns[i - 1].ToArray());
            NodeCount--;
        }
        return true;
    }

    /// <summary>Values registered at <paramref name="ns"/> or any prefix of it, longest prefix first.</summary>
    public List<T> FindAtOrAbove(MoqTrackNamespace ns)
    {
        var found = new List<T>();
        var node = _root;
        var levels = new List<List<T>>();
        if (node.Values is { Count: > 0 }) levels.Add(node.Values);
        for (int i = 0; i < ns.Count; i++)
        {
            if (node.Children is null || !node.Children.TryGetValue(ns[i].ToArray(), out var child))
                break;
            node = child;
            if (node.Values is { Count: > 0 }) levels.Add(node.Values);
        }
        for (int i = levels.Count - 1; i >= 0; i--)
            found.AddRange(levels[i]);
        return found;
    }

    /// <summary>(namespace, value) for every registration at <paramref name="prefix"/> or below it, at most <paramref name="limit"/>.</summary>
    public List<(MoqTrackNamespace Namespace, T Value)> FindAtOrBelow(MoqTrackNamespace prefix, int limit = int.MaxValue)
    {
        var found = new List<(MoqTrackNamespace, T)>();
        var node = _root;
        for (int i = 0; i < prefix.Count; i++)
        {
            if (node.Children is null || !node.Children.TryGetValue(prefix[i].ToArray(), out var child))
                return found;
            node = child;
        }
        var fields = prefix.Fields.ToList();
        Collect(node, fields, found, limit);
        return found;
    }

    private static void Collect(Node node, List<ReadOnlyMemory<byte>> fields, List<(MoqTrackNamespace, T)> found, int limit)
    {
        if (node.Values is { Count: > 0 })
        {
            var ns = new MoqTrackNamespace(fields.Select(f => f.ToArray()));
            foreach (var v in node.Values)
            {
                if (found.Count >= limit) return;
                found.Add((ns, v));
            }
        }
        if (node.Children is null) return;
        foreach (var (key, child) in node.Children)
        {
            if (found.Count >= limit) return;
            fields.Add(key);
            Collect(child, fields, found, limit);
            fields.RemoveAt(fields.Count - 1);
        }
    }
}

/// <summary>Content equality for byte-array dictionary keys.</summary>
internal sealed class ByteArrayComparer : IEqualityComparer<byte[]>
{
    public static readonly ByteArrayComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) => x is not null && y is not null && x.AsSpan().SequenceEqual(y);

    public int GetHashCode(byte[] obj)
    {
        var hash = new HashCode();
        hash.AddBytes(obj);
        return hash.ToHashCode();
    }
}
