using FastRelay.Protocols.Moq.Relay.FastPath;
using FastRelay.Tests.Quic.Api;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace FastRelay.Tests.Quic.AckFrequency;

/// <summary>The MoQ fast path's request (FastPathAckFrequency): its `--fast-path-acks` syntax and what it does to a real
/// connection whose peer does or does not take the extension.</summary>
public class FastPathAckFrequencyTests
{
    [Theory]
    [InlineData("4:20", 4UL, 20.0)]
    [InlineData("0:1", 0UL, 1.0)]
    [InlineData("9:2.5", 9UL, 2.5)]
    public void Threshold_and_delay_parse_with_the_default_reordering_threshold(string text, ulong threshold, double ms)
    {
        Assert.True(FastPathAckFrequency.TryParse(text, out var value));
        Assert.Equal(new FastPathAckFrequency(threshold, TimeSpan.FromMilliseconds(ms), 3), value);
    }

    [Theory]
    [InlineData("off")]
    [InlineData("OFF")]
    public void Off_is_null(string text)
    {
        Assert.True(FastPathAckFrequency.TryParse(text, out var value));
        Assert.Null(value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("4")]
    [InlineData("4:")]
    [InlineData("-1:20")]
    [InlineData("1001:20")]
    [InlineData("4:0.5")]
    [InlineData("4:16384")]
    [InlineData("4:20:3")]
    public void Anything_else_is_refused(string text) => Assert.False(FastPathAckFrequency.TryParse(text, out _));

    [Fact]
    public async Task The_default_request_reaches_a_peer_that_takes_it_and_skips_one_that_does_not()
    {
        await using var taking = await LoopbackPair.StartAsync();
        Assert.True(FastPathAckFrequency.Default.TryRequest(taking.Server, NullLogger.Instance));

        await using var refusing = await LoopbackPair.StartAsync(client: c => c.EnableAckFrequency = false);
        Assert.False(refusing.Server.PeerSupportsAckFrequency);
        Assert.False(FastPathAckFrequency.Default.TryRequest(refusing.Server, NullLogger.Instance));
    }
}
