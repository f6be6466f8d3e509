using System.Text;
using FastRelay.Protocols.Moq.Wire;
using Xunit;

namespace FastRelay.Tests.Moq.Wire;

public class MoqNamingTests
{
    [Fact]
    public void DraftSerializedNameExample()
    {
        var name = new MoqFullTrackName(MoqTrackNamespace.FromStrings("example.net", "team2", "project_x"), "report");
        Assert.Equal("example.2enet-team2-project_x--report", name.ToString());
        Assert.True(MoqNameFormat.TryParse("example.2enet-team2-project_x--report", out var back));
        Assert.Equal(name, back);
    }

    [Fact]
    public void BinaryNamesRoundTrip()
    {
        var rng = new Random(7);
        for (int i = 0; i < 200; i++)
        {
            var fields = Enumerable.Range(0, rng.Next(0, 5)).Select(_ => RandomBytes(rng, rng.Next(1, 8))).ToArray();
            var name = new MoqFullTrackName(new MoqTrackNamespace(fields), RandomBytes(rng, rng.Next(0, 8)));
            string text = name.ToString();
            Assert.True(MoqNameFormat.TryParse(text, out var back), text);
            Assert.Equal(name, back);
            Assert.Equal(text, back.ToString());
        }
    }

    private static byte[] RandomBytes(Random rng, int n)
    {
        var b = new byte[n];
        rng.NextBytes(b);
        return b;
    }

    [Theory]
    [InlineData("abc--x.")]       // trailing period
    [InlineData("abc--x.4")]      // one hex digit
    [InlineData("abc--.2E")]      // uppercase hex
    [InlineData("abc--.61")]      // 'a' must be literal
    [InlineData("a--b-c")]        // '-' inside the name
    [InlineData("a---b")]         // empty namespace field
    [InlineData("a b--c")]        // space is not literal
    [InlineData("abc")]           // no '--'
    [InlineData("ab.zz--c")]      // not hex
    public void RejectsNonCanonicalNames(string text) => Assert.False(MoqNameFormat.TryParse(text, out _));

    [Fact]
    public void NamespaceWireRoundTripAndLimits()
    {
        var ns = MoqTrackNamespace.FromStrings("a", "bb", "ccc");
        var w = new MoqWriter();
        ns.Write(w);
        var r = new MoqReader(w.WrittenMemory);
        Assert.True(MoqTrackNamespace.TryRead(ref r, out var back, out _));
        Assert.Equal(ns, back);
        Assert.True(back.StartsWith(MoqTrackNamespace.FromStrings("a", "bb")));
        Assert.False(back.StartsWith(MoqTrackNamespace.FromStrings("a", "b")));
        Assert.Equal(MoqTrackNamespace.FromStrings("ccc"), back.Suffix(2));

        Assert.Equal(MoqSessionError.ProtocolViolation, ReadNamespace(Fields(33, 1)).Code);      // > 32 fields
        Assert.True(ReadNamespace(Fields(32, 1)).IsNone);
        Assert.Equal(MoqSessionError.ProtocolViolation, ReadNamespace(Fields(1, 0)).Code);       // empty field
        Assert.Equal(MoqSessionError.ProtocolViolation, ReadNamespace(Fields(2, 2049)).Code);    // 4098 bytes
        Assert.True(ReadNamespace(Fields(2, 2048)).IsNone);                                      // exactly 4096
    }

    [Fact]
    public void FullTrackNameOver4096IsRejected()
    {
        var w = new MoqWriter();
        new MoqTrackNamespace(new[] { new byte[4000] }).Write(w);
        w.WriteLengthPrefixed(new byte[97]);
        var r = new MoqReader(w.WrittenMemory);
        Assert.False(MoqFullTrackName.TryRead(ref r, out _, out var error));
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);

        w = new MoqWriter();
        new MoqTrackNamespace(new[] { new byte[4000] }).Write(w);
        w.WriteLengthPrefixed(new byte[96]);
        r = new MoqReader(w.WrittenMemory);
        Assert.True(MoqFullTrackName.TryRead(ref r, out var name, out _));
        Assert.Equal(96, name.Name.Length);
    }

    private static byte[] Fields(int count, int length)
    {
        var w = new MoqWriter();
        w.WriteVarint((ulong)count);
        for (int i = 0; i < count; i++) w.WriteLengthPrefixed(Encoding.ASCII.GetBytes(new string('x', length)));
        return w.ToArray();
    }

    private static MoqError ReadNamespace(byte[] bytes)
    {
        var r = new MoqReader(bytes);
        MoqTrackNamespace.TryRead(ref r, out _, out var error);
        return error;
    }
}
