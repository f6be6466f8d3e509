using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Protocols.Moq.Relay.Tracks;

namespace FastRelay.Protocols.Moq.Relay.Routing;

/// <summary>A PUBLISH_NAMESPACE the relay accepted: subscriptions to tracks under it are routed to its session.</summary>
internal sealed class NamespaceRegistration(MoqTrackNamespace ns, RelaySession session, Action<NamespaceRegistration> withdraw) : IRelayRegistration
{
    private int _disposed;

    public MoqTrackNamespace Namespace { get; } = ns;
    public RelaySession Session { get; } = session;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            withdraw(this);
    }
}

/// <summary>A SUBSCRIBE_NAMESPACE the relay accepted: NAMESPACE / NAMESPACE_DONE for namespaces under its prefix.</summary>
internal sealed class NamespaceInterest(MoqTrackNamespace prefix, RelaySession session, INamespaceListener listener,
    IReadOnlyList<AuthToken> tokens, Action<NamespaceInterest> withdraw) : IRelayRegistration
{
    private int _disposed;

    public MoqTrackNamespace Prefix { get; } = prefix;
    public RelaySession Session { get; } = session;
    public INamespaceListener Listener { get; } = listener;

    /// <summary>The request's tokens, kept to check each namespace announced to it against the auth rules.</summary>
    public IReadOnlyList<AuthToken> Tokens { get; } = tokens;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            withdraw(this);
    }
}
