using FastRelay.Protocols.Moq.Wire;
namespace FastRelay.Protocols.Moq.Relay;

/// <summary>
/// Bounds on what peers can make the relay hold, per session and in total. Hostile input is normal input: every
/// per-peer resource is capped here, and a request beyond a cap is refused with EXCESSIVE_LOAD (or the session is
/// refused at setup) instead of allocating.
/// </summary>
public sealed record RelayLimits
{
    public int MaxSessions { get; init; } = 4096;
    public int MaxTracks { get; init; } = 16384;

    public int MaxSubscriptionsPerSession { get; init; } = 256;
    public int MaxPublishedNamespacesPerSession { get; init; } = 64;
    public int MaxNamespaceInterestsPerSession { get; init; } = 16;
    public int MaxPublishedTracksPerSession { get; init; } = 256;
    /// <summary>SUBSCRIBE / FETCH / TRACK_STATUS being answered at once for one session.</summary>
    public int MaxRequestsInFlightPerSession { get; init; } = 64;
    /// <summary>A SUBSCRIBE_NAMESPACE matching more published namespaces is refused with NAMESPACE_TOO_LARGE.</summary>
    public int MaxNamespacesPerInterest { get; init; } = 1024;

    /// <summary>Bytes one track's cache may hold (its newest group included: past this a group is truncated).</summary>
    public long CacheBytesPerTrack { get; init; } = 16L << 20;
    /// <summary>Bytes the caches of one publishing session's tracks may hold together.</summary>
    public long CacheBytesPerSession { get; init; } = 64L << 20;
    /// <summary>Bytes all caches may hold together.</summary>
    public long CacheBytesTotal { get; init; } = 256L << 20;

    /// <summary>Bytes queued for one subscriber session and not yet accepted by its transport; beyond, subgroups drop.</summary>
    public long SendQueueBytesPerSession { get; init; } = 4L << 20;
}
