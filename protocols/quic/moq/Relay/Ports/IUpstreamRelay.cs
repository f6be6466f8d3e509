using FastRelay.Protocols.Moq.Wire;
namespace FastRelay.Protocols.Moq.Relay.Ports;

/// <summary>
/// The relay this one takes tracks from when no local publisher has a namespace (origin → edge). Connects on first use
/// and reconnects after the session is lost; the session it returns is also started with the relay's handler.
/// </summary>
public interface IUpstreamRelay
{
    /// <summary>For logs and status: the upstream's URL.</summary>
    string Address { get; }

    /// <summary>The set-up session to the upstream relay (connecting if there is none); throws when it cannot connect.</summary>
    ValueTask<IRelayPeer> GetPeerAsync(CancellationToken cancellationToken);
}
