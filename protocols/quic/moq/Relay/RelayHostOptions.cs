using System.Net;
using System.Security.Cryptography.X509Certificates;
using FastRelay.Protocols.Moq.Session;

namespace FastRelay.Protocols.Moq.Relay;

/// <summary>Where and how a <see cref="RelayHost"/> runs a <see cref="MoqRelay"/>.</summary>
public sealed record RelayHostOptions
{
    /// <summary>Instance name (status file, logs).</summary>
    public string Name { get; init; } = "moq";

    /// <summary>UDP endpoint; port 0 picks a free one (see <see cref="RelayHost.LocalEndPoint"/>).</summary>
    public required IPEndPoint ListenEndPoint { get; init; }

    public required X509Certificate2 Certificate { get; init; }

    public RelayOptions Relay { get; init; } = new();

    /// <summary>Session limits and timeouts for every session (the relay sets the handler).</summary>
    public MoqSessionOptions Session { get; init; } = new();

    /// <summary><see cref="Session"/> as the relay runs every session, accepted or upstream: its pumps only hand objects to
    /// its tracks (a lock and a queue per subscriber session), so subscription objects are delivered inline, without a
    /// thread-pool hand-off per object.</summary>
    internal MoqSessionOptions RelaySession => Session with { InlineSubscriptionDelivery = true };

    /// <summary>Rewritten every <see cref="StatusInterval"/> with <see cref="Status.MoqRelayStatus"/> JSON; null: none.</summary>
    public string? StatusFile { get; init; }

    public TimeSpan StatusInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Another relay to take tracks from (moqt://HOST:PORT[/PATH], raw QUIC); null: this relay is an origin.</summary>
    public Uri? Upstream { get; init; }

    /// <summary>Certificates to trust for <see cref="Upstream"/> beyond the system's (e.g. its self-signed one).</summary>
    public X509Certificate2Collection? UpstreamTrust { get; init; }

    /// <summary>Accept any certificate from <see cref="Upstream"/> (tests and labs).</summary>
    public bool UpstreamInsecure { get; init; }

    /// <summary>
    /// WebTransport path on the same port (ALPN h3, extended CONNECT, WT-Protocol <c>moqt-19</c>), e.g. "/moq" — what
    /// browsers connect to; null: raw QUIC only.
    /// </summary>
    public string? WebTransportPath { get; init; } = "/moq";

    /// <summary>
    /// The QUIC kernel fast path (docs/quic-fast-path.md): null (the default) leaves the relay entirely in userspace.
    /// Set, the relay loads the quic_moq programs, offers disable_1rtt_encryption (0xBAAD) to raw-QUIC peers, and the
    /// kernel forwards subgroup data from publishers to subscribers whose connections both negotiated it
    /// (<see cref="FastPath.RelayFastPath"/>); every other subscriber is served by the relay as before.
    /// </summary>
    public FastPath.RelayFastPathOptions? FastPath { get; init; }

    /// <summary>Directory for one qlog file per QUIC connection (accepted and upstream); null: no qlog. On a fast-path
    /// connection the trace shows the kernel's copies under their wire numbers and the ACKs that acknowledged them.</summary>
    public string? QlogDirectory { get; init; }

    /// <summary>Streams a peer may open: MoQ opens one unidirectional stream per subgroup and one bidirectional per request.</summary>
    public int MaxInboundUnidirectionalStreams { get; init; } = 256;
    public int MaxInboundBidirectionalStreams { get; init; } = 256;
}
