using FastRelay.Protocols.Moq.Wire;
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
        trie.Add(MoqTrackNamespace.FromStrings("foo"), "foo");
        trie.Add(MoqTrackNamespace.FromStrings("foo", "bar"), "foo/bar");
        trie.Add(MoqTrackNamespace.FromStrings("foobar"), "foobar");
        Assert.Equal(new[] { "foo/bar", "foo" }, trie.FindAtOrAbove(MoqTrackNamespace.FromStrings("foo", "bar")));
        Assert.Equal(new[] { "foo/bar", "foo" }, trie.FindAtOrAbove(MoqTrackNamespace.FromStrings("foo", "bar", "baz")));
        Assert.Equal(new[] { "foo" }, trie.FindAtOrAbove(MoqTrackNamespace.FromStrings("foo", "barx")));
        Assert.Empty(trie.FindAtOrAbove(MoqTrackNamespace.FromStrings("fo")));
        Assert.True(MoqTrackNamespace.FromStrings("foo", "bar").StartsWith(MoqTrackNamespace.FromStrings("foo")));
        Assert.False(MoqTrackNamespace.FromStrings("foobar").StartsWith(MoqTrackNamespace.FromStrings("foo")));
    }

    [Fact]
    public void AtOrBelowFindsEveryNamespaceUnderAPrefixUpToALimit()
    {
        var trie = new NamespaceTrie<string>();
        foreach (var ns in new[] { "a/b", "a/c", "a/c/d", "b" })
            trie.Add(RelayNames.Namespace(ns), ns);
        var under = trie.FindAtOrBelow(MoqTrackNamespace.FromStrings("a")).Select(x => RelayNames.Format(x.Namespace)).Order().ToList();
        Assert.Equal(new[] { "a/b", "a/c", "a/c/d" }, under);
        Assert.Equal(4, trie.FindAtOrBelow(MoqTrackNamespace.Empty).Count);
        Assert.Equal(2, trie.FindAtOrBelow(MoqTrackNamespace.Empty, limit: 2).Count);
    }

    [Fact]
    public void RemovingEverythingLeavesNoNodes()
    {
        var trie = new NamespaceTrie<object>();
        var values = new List<(MoqTrackNamespace, object)>();
        for (int i = 0; i < 200; i++)
        {
            var ns = MoqTrackNamespace.FromStrings("org", "room" + (i % 17), "user" + i);
            var v = new object();
            trie.Add(ns, v);
            values.Add((ns, v));
        }
        Assert.True(trie.NodeCount > 200);
        foreach (var (ns, v) in values)
            Assert.True(trie.Remove(ns, v));
        Assert.Equal(0, trie.NodeCount);
        Assert.Equal(0, trie.ValueCount);
        Assert.False(trie.Remove(MoqTrackNamespace.FromStrings("org"), new object()));
    }

    [Fact]
    public void NamesWithArbitraryBytesRoundTripAndPrintEscaped()
    {
        var ns = new MoqTrackNamespace([new byte[] { 0, 0x2f, 0x41 }, "x"u8.ToArray()]);
        Assert.Equal("%00%2FA/x", RelayNames.Format(ns));
        Assert.Equal(ns, new MoqTrackNamespace(ns.Fields.Select(f => f.ToArray())));
        Assert.Equal(ns, MoqTrackNamespace.FromStrings("\0/A", "x"));
        Assert.NotEqual(ns, MoqTrackNamespace.FromStrings("\0", "A", "x"));
    }
}
