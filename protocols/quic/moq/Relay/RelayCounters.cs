using FastRelay.Protocols.Moq.Wire;
namespace FastRelay.Protocols.Moq.Relay;

/// <summary>Relay-wide event counts (atomic increments), for the status view and tests.</summary>
public sealed class RelayCounters
{
    public long SessionsAccepted;
    public long SessionsRefused;
    public long RequestsRefused;
    public long SubscriptionsAccepted;
    public long UpstreamSubscriptions;
    public long TracksOpened;
    public long FetchesServed;
    public long FetchObjects;
    public long UpstreamFetches;

    // Object totals that only grow (Prometheus counters): the per-track and per-session figures leave with their track or session.
    public long ObjectsIn;
    public long ObjectsOut;
    public long ObjectsDropped;
}
