using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay;
using FastRelay.Protocols.Moq.Relay.Auth;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Tests.Moq.Relay.Fakes;
using Microsoft.Extensions.Logging;
using Xunit;

namespace FastRelay.Tests.Moq.Relay;

/// <summary>AUTHORIZATION TOKEN checks at the relay: refusals carry UNAUTHORIZED (0x1), the draft's code.</summary>
public class RelayAuthTests
{
    private static RelayOptions Guarded() => new()
    {
        Auth = AuthFile.Parse("""{ "namespaces": { "live": { "publish": ["pub"], "subscribe": ["sub"] } } }"""),
    };

    [Fact]
    public async Task APublisherWithoutTheRightTokenIsRefusedUnauthorized()
    {
        var h = new RelayHarness(Guarded(), publishNamespace: false);
        var ns = new NamespaceRequest(RelayNames.Namespace("live")) { AuthorizationTokens = [AuthToken.FromText("sub")] };
        var refused = await h.Relay.PublishNamespaceAsync(h.Publisher, ns, default);
        Assert.Equal(MoqRequestErrorCode.Unauthorized, refused.Refusal!.Code);
        var pushed = await h.Relay.PublishAsync(h.Publisher, new PublishRequest(RelayHarness.Video, new FakeUpstreamSubscription()), default);
        Assert.Equal(MoqRequestErrorCode.Unauthorized, pushed.Refusal!.Code);
        Assert.Equal(0, h.Relay.TrackCount);
        Assert.Equal(0, h.Relay.NamespaceState.Published);
        var accepted = await h.Relay.PublishNamespaceAsync(h.Publisher, ns with { AuthorizationTokens = [AuthToken.FromText("pub")] }, default);
        Assert.True(accepted.IsAccepted);
    }

    [Fact]
    public async Task ASubscriberWithoutTheRightTokenIsRefusedUnauthorizedAndNothingIsSubscribedUpstream()
    {
        var h = new RelayHarness(Guarded(), publishNamespace: false);
        await h.Relay.PublishNamespaceAsync(h.Publisher, new NamespaceRequest(RelayNames.Namespace("live")) { AuthorizationTokens = [AuthToken.FromText("pub")] }, default);
        var peer = h.NewSubscriberPeer();
        var refused = await h.Relay.SubscribeAsync(peer, new SubscribeRequest(RelayHarness.Video) { AuthorizationTokens = [AuthToken.FromText("pub")] }, new FakeDownstreamPort(), default);
        Assert.Equal(MoqRequestErrorCode.Unauthorized, refused.Refusal!.Code);
        Assert.Empty(h.Publisher.Subscribes);
        var fetch = await h.Relay.FetchAsync(peer, new FetchRequest { Track = RelayHarness.Video, End = new(1, 0) }, default);
        Assert.Equal(MoqRequestErrorCode.Unauthorized, fetch.Refusal!.Code);
        var status = await h.Relay.TrackStatusAsync(peer, new SubscribeRequest(RelayHarness.Video), default);
        Assert.Equal(MoqRequestErrorCode.Unauthorized, status.Refusal!.Code);
        var discover = await h.Relay.SubscribeNamespaceAsync(peer, new NamespaceRequest(RelayNames.Namespace("live")), new FakeNamespaceListener(), default);
        Assert.Equal(MoqRequestErrorCode.Unauthorized, discover.Refusal!.Code);

        var ok = await h.Relay.SubscribeAsync(peer, new SubscribeRequest(RelayHarness.Video) { AuthorizationTokens = [AuthToken.FromText("sub")] }, new FakeDownstreamPort(), default);
        Assert.True(ok.IsAccepted);
        Assert.True(h.Relay.Counters.RequestsRefused >= 4);
    }

    [Fact]
    public void AnOpenRelaySaysSoAtStartUp()
    {
        var logs = new ListLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        _ = new MoqRelay(new RelayOptions { LoggerFactory = factory });
        Assert.Contains(logs.Lines, l => l.Level == LogLevel.Warning && l.Message.Contains("OPEN"));
        logs.Lines.Clear();
        _ = new MoqRelay(Guarded() with { LoggerFactory = factory });
        Assert.DoesNotContain(logs.Lines, l => l.Level == LogLevel.Warning);
    }
}

internal sealed class ListLoggerProvider : ILoggerProvider
{
    public List<(LogLevel Level, string Message)> Lines { get; } = [];
    public ILogger CreateLogger(string categoryName) => new ListLogger(this);
    public void Dispose() { }

    private sealed class ListLogger(ListLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner.Lines) owner.Lines.Add((logLevel, formatter(state, exception)));
        }
    }
}
