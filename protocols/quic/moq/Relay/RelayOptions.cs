using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Auth;
using FastRelay.Protocols.Moq.Relay.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastRelay.Protocols.Moq.Relay;

/// <summary>How a <see cref="MoqRelay"/> behaves: limits, access control, upstream relay, timings, logging.</summary>
public sealed record RelayOptions
{
    public RelayLimits Limits { get; init; } = new();

    /// <summary>Who may publish and subscribe where. <see cref="RelayAuthPolicy.Open"/> (the default) allows everyone.</summary>
    public RelayAuthPolicy Auth { get; init; } = RelayAuthPolicy.Open;

    /// <summary>Where to subscribe when no local publisher has a namespace (relay chains); null: refuse with DOES_NOT_EXIST.</summary>
    public IUpstreamRelay? Upstream { get; init; }

    /// <summary>AUTHORIZATION TOKEN values sent with the relay's own requests to <see cref="Upstream"/>.</summary>
    public IReadOnlyList<AuthToken> UpstreamTokens { get; init; } = [];

    /// <summary>How long an upstream subscription stays after its last subscriber left (a quick re-join reuses it).</summary>
    public TimeSpan UpstreamLinger { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a SUBSCRIBE waits for the upstream SUBSCRIBE_OK before TIMEOUT.</summary>
    public TimeSpan UpstreamSubscribeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
