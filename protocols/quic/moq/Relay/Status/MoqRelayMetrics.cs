using FastRelay.Metrics;
using static FastRelay.Metrics.SnapshotMetrics<FastRelay.Protocols.Moq.Relay.Status.MoqRelayStatus>;

namespace FastRelay.Protocols.Moq.Relay.Status;

/// <summary>
/// The MoQ relay's counters as metrics (meter "FastRelay.Moq.Relay"), from the <see cref="MoqRelayStatus"/> snapshot the
/// status file is written from: per session, per track and relay-wide. Read only when a scrape asks.
/// </summary>
public sealed class MoqRelayMetrics : IDisposable
{
    public const string MeterName = "FastRelay.Moq.Relay";

    private readonly SnapshotMetrics<MoqRelayStatus> _metrics;

    public MoqRelayMetrics(Func<MoqRelayStatus> snapshot)
    {
        _metrics = new SnapshotMetrics<MoqRelayStatus>(MeterName, snapshot);
        _metrics.Gauge("fastrelay.moq.sessions", "Open sessions by transport.",
            s => s.Sessions.GroupBy(x => x.Transport).Select(g => M((long)g.Count(), ("transport", g.Key))));
        _metrics.Counter("fastrelay.moq.session.objects.sent", "Objects sent to each session.",
            s => s.Sessions.Select(x => M(x.ObjectsSent, Labels(x))));
        _metrics.Counter("fastrelay.moq.session.bytes.sent", "Object payload bytes sent to each session.",
            s => s.Sessions.Select(x => M(x.BytesSent, Labels(x))));
        _metrics.Counter("fastrelay.moq.session.dropped", "What the session's send queue dropped for priority, by unit.",
            s => s.Sessions.SelectMany(x => new[] { M(x.ObjectsDropped, [.. Labels(x), ("unit", "object")]), M(x.SubgroupsDropped, [.. Labels(x), ("unit", "subgroup")]) }));
        _metrics.Gauge("fastrelay.moq.session.queued.bytes", "Bytes waiting in each session's send queue.",
            s => s.Sessions.Select(x => M(x.QueuedBytes, Labels(x))));
        _metrics.Counter("fastrelay.moq.track.objects.in", "Objects received per track.", s => s.Tracks.Select(t => M(t.ObjectsIn, ("track", t.Track))));
        _metrics.Counter("fastrelay.moq.track.bytes.in", "Object payload bytes received per track.", s => s.Tracks.Select(t => M(t.BytesIn, ("track", t.Track))));
        _metrics.Counter("fastrelay.moq.track.objects.out", "Object copies sent per track.", s => s.Tracks.Select(t => M(t.ObjectsOut, ("track", t.Track))));
        _metrics.Gauge("fastrelay.moq.track.subscribers", "Subscribers per track.", s => s.Tracks.Select(t => M((long)t.Subscribers, ("track", t.Track))));
        _metrics.Gauge("fastrelay.moq.track.cache.bytes", "Cached bytes per track.", s => s.Tracks.Select(t => M(t.CacheBytes, ("track", t.Track))));
        _metrics.Counter("fastrelay.moq.relay.events", "Relay-wide events, by kind.", s =>
        [
            M(s.Totals.SessionsAccepted, ("event", "session_accepted")), M(s.Totals.SessionsRefused, ("event", "session_refused")),
            M(s.Totals.RequestsRefused, ("event", "request_refused")), M(s.Totals.SubscriptionsAccepted, ("event", "subscription_accepted")),
            M(s.Totals.UpstreamSubscriptions, ("event", "upstream_subscription")), M(s.Totals.FetchesServed, ("event", "fetch_served")),
        ]);
        _metrics.Counter("fastrelay.moq.objects", "Objects over all tracks: received from publishers, copies sent, copies dropped.", s =>
            [M(s.Totals.ObjectsIn, ("direction", "in")), M(s.Totals.ObjectsOut, ("direction", "out")), M(s.Totals.ObjectsDropped, ("direction", "dropped"))]);
        // The kernel fast path (`moq relay --mode fastpath`): nothing when it is off.
        _metrics.Gauge("fastrelay.moq.fastpath.slots", "Subscriber connections the kernel serves.",
            s => s.FastPath is { } f ? [M((long)f.Slots)] : []);
        _metrics.Counter("fastrelay.moq.fastpath.tapped.streams", "Upstream subgroup streams put on the fast path.",
            s => s.FastPath is { } f ? [M(f.TappedStreams)] : []);
        _metrics.Counter("fastrelay.moq.fastpath.forwarded.bytes", "Stream bytes the kernel forwarded to subscribers.",
            s => s.FastPath is { } f ? [M(f.KernelForwardedBytes)] : []);
        _metrics.Counter("fastrelay.moq.fastpath.packets", "Packets per kernel outcome: forwarded copies, copies not forwarded (userspace sent them), and the programs' counters.",
            s => s.FastPath is { } f ?
            [
                M(f.ForwardedPackets, ("outcome", "forwarded")), M(f.NotForwardedPackets, ("outcome", "not_forwarded")),
                M(f.UpstreamMatched, ("outcome", "upstream_matched")), M(f.UpstreamNoChannel, ("outcome", "upstream_no_channel")),
                M(f.Clones, ("outcome", "clones")), M(f.EgressRewritten, ("outcome", "egress_rewritten")),
                M(f.EgressDroppedNoStream, ("outcome", "egress_dropped_no_stream")), M(f.EgressNotForwarded, ("outcome", "egress_not_forwarded")),
            ] : []);
        _metrics.Gauge("fastrelay.moq.cache.bytes", "Cached bytes over all tracks, and the bound.", s =>
            [M(s.Totals.CacheBytes, ("kind", "used")), M(s.Totals.CacheLimitBytes, ("kind", "limit"))]);
    }

    private static (string, object?)[] Labels(MoqSessionStatus s) => [("session", s.Name), ("transport", s.Transport), ("remote", s.Remote)];

    public System.Diagnostics.Metrics.Meter Meter => _metrics.Meter;

    public void Dispose() => _metrics.Dispose();
}
