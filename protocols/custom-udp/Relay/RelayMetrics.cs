using FastRelay.Metrics;
using static FastRelay.Metrics.SnapshotMetrics<FastRelay.Protocols.CustomUdp.Relay.RelayMetrics.Snapshot>;

namespace FastRelay.Protocols.CustomUdp.Relay;

/// <summary>
/// The custom-UDP relay's counters as metrics (meter "FastRelay.CustomUdp.Relay"): per channel and per subscriber from the
/// <see cref="RelayStatus"/> the status file is written from, and the TC programs' relay-wide counters (fr_stats) on the
/// fast path. Read only when a scrape asks.
/// </summary>
public sealed class RelayMetrics : IDisposable
{
    public const string MeterName = "FastRelay.CustomUdp.Relay";

    public sealed record Snapshot(RelayStatus Status, IReadOnlyList<KeyValuePair<string, ulong>> Kernel);

    private readonly SnapshotMetrics<Snapshot> _metrics;

    public RelayMetrics(CustomUdpRelay relay)
    {
        // Only the kernel plane's counters are fr_stats; the userspace plane's own counters are not part of this meter.
        _metrics = new SnapshotMetrics<Snapshot>(MeterName, () => new Snapshot(relay.Status(),
            relay.Plane.Mode == "fastpath" ? relay.Plane.PlaneCounters().ToList() : []));
        _metrics.Counter("fastrelay.upstream.packets", "Upstream DATA packets per channel (through the relay socket or only the kernel).",
            s => s.Status.Channels.Select(c => M((long)c.UpstreamPackets, ("channel", c.Channel))));
        _metrics.Gauge("fastrelay.channel.subscribers", "Subscribers per channel.",
            s => s.Status.Channels.Select(c => M((long)c.Subscribers, ("channel", c.Channel))));
        _metrics.Counter("fastrelay.subscriber.forwarded.packets", "Copies sent to each subscriber.",
            s => s.Status.Subscribers.Select(x => M((long)x.Forwarded, Labels(x))));
        _metrics.Counter("fastrelay.subscriber.forwarded.bytes", "UDP payload bytes sent to each subscriber.",
            s => s.Status.Subscribers.Select(x => M((long)x.ForwardedBytes, Labels(x))));
        _metrics.Counter("fastrelay.subscriber.dropped.packets", "Copies not sent to a subscriber, by reason.",
            s => s.Status.Subscribers.Select(x => M((long)x.DroppedByBudget, [.. Labels(x), ("reason", "budget")])));
        _metrics.Counter("fastrelay.subscriber.repaired.packets", "Packets resent to a subscriber after a NACK.",
            s => s.Status.Subscribers.Select(x => M((long)x.Repaired, Labels(x))));
        _metrics.Counter("fastrelay.subscriber.nacked.sequences", "Sequence numbers a subscriber asked for again.",
            s => s.Status.Subscribers.Select(x => M((long)x.NackedSequences, Labels(x))));
        _metrics.Gauge("fastrelay.subscriber.silent.seconds", "Seconds since the subscriber was last heard.",
            s => s.Status.Subscribers.Select(x => M(x.SilentSeconds, Labels(x))));
        _metrics.Counter("fastrelay.relay.events", "Relay-wide control-plane events, by kind.", s =>
        [
            M((long)s.Status.Totals.Accepted, ("event", "accepted")), M((long)s.Status.Totals.Refused, ("event", "refused")),
            M((long)s.Status.Totals.Removed, ("event", "removed")), M((long)s.Status.Totals.Challenges, ("event", "challenge")),
            M((long)s.Status.Totals.Malformed, ("event", "malformed")), M((long)s.Status.Totals.ForeignData, ("event", "foreign_data")),
            M((long)s.Status.Totals.NacksDropped, ("event", "nack_dropped")), M((long)s.Status.Totals.Keepalives, ("event", "keepalive")),
        ]);
        _metrics.Counter("fastrelay.kernel", "The TC programs' relay-wide counters (fr_stats summed over CPUs), by counter; none in userspace mode.",
            s => s.Kernel.Select(k => M((long)k.Value, ("counter", k.Key))));
    }

    private static (string, object?)[] Labels(SubscriberStatus s) => [("slot", s.Slot), ("subscriber", s.Endpoint), ("channel", s.Channel)];

    public System.Diagnostics.Metrics.Meter Meter => _metrics.Meter;

    public void Dispose() => _metrics.Dispose();
}
