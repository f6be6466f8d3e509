using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Routing;
using Xunit;

namespace FastRelay.Tests.Moq.Relay;

public class NamespaceTrieTests
{
    [Fact]
    public void PrefixMatchingIsFieldByField()
    {
        // draft-19 §"Publisher Interactions": (foo, bar) matches (foo) and (foo, bar), not (foobar).
        var trie = new NamespaceTrie<string>();
        trie.Add(TrackNamespace.Of("foo"), "foo");
        trie.Add(TrackNamespace.Of("foo", "bar"), "foo/bar");
        trie.Add(TrackNamespace.Of("foobar"), "foobar");
        Assert.Equal(new[] { "foo/bar", "foo" }, trie.FindAtOrAbove(TrackNamespace.Of("foo", "bar")));
        Assert.Equal(new[] { "foo/bar", "foo" }, trie.FindAtOrAbove(TrackNamespace.Of("foo", "bar", "baz")));
        Assert.Equal(new[] { "foo" }, trie.FindAtOrAbove(TrackNamespace.Of("foo", "barx")));
        Assert.Empty(trie.FindAtOrAbove(TrackNamespace.Of("fo")));
        Assert.True(TrackNamespace.Of("foo").IsPrefixOf(TrackNamespace.Of("foo", "bar")));
        Assert.False(TrackNamespace.Of("foo").IsPrefixOf(TrackNamespace.Of("foobar")));
    }

    [Fact]
    public void AtOrBelowFindsEveryNamespaceUnderAPrefixUpToALimit()
    {
        var trie = new NamespaceTrie<string>();
        foreach (var ns in new[] { "a/b", "a/c", "a/c/d", "b" })
            trie.Add(TrackNamespace.Parse(ns), ns);
        var under = trie.FindAtOrBelow(TrackNamespace.Of("a")).Select(x => x.Namespace.ToString()).Order().ToList();
        Assert.Equal(new[] { "a/b", "a/c", "a/c/d" }, under);
        Assert.Equal(4, trie.FindAtOrBelow(TrackNamespace.Empty).Count);
        Assert.Equal(2, trie.FindAtOrBelow(TrackNamespace.Empty, limit: 2).Count);
    }

    [Fact]
    public void RemovingEverythingLeavesNoNodes()
    {
        var trie = new NamespaceTrie<object>();
        var values = new List<(TrackNamespace, object)>();
        for (int i = 0; i < 200; i++)
        {
            var ns = TrackNamespace.Of("org", "room" + (i % 17), "user" + i);
            var v = new object();
            trie.Add(ns, v);
            values.Add((ns, v));
        }
        Assert.True(trie.NodeCount > 200);
        foreach (var (ns, v) in values)
            Assert.True(trie.Remove(ns, v));
        Assert.Equal(0, trie.NodeCount);
        Assert.Equal(0, trie.ValueCount);
        Assert.False(trie.Remove(TrackNamespace.Of("org"), new object()));
    }

    [Fact]
    public void NamesWithArbitraryBytesRoundTripAndPrintEscaped()
    {
        var ns = TrackNamespace.FromBytes([new byte[] { 0, 0x2f, 0x41 }, "x"u8.ToArray()]);
        Assert.Equal("%00%2FA/x", ns.ToString());
        Assert.Equal(ns, TrackNamespace.FromBytes(ns.Fields));
        Assert.Equal(ns, TrackNamespace.Of("\0/A", "x"));
        Assert.NotEqual(ns, TrackNamespace.Of("\0", "A", "x"));
    }
}
