using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Status;
using FastRelay.Protocols.Moq.Relay.Tracks;

namespace FastRelay.Protocols.Moq.Relay;

public sealed partial class MoqRelay
{
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;

    /// <summary>Sessions, tracks, subscribers, cache use and counters now (for the status file and tests).</summary>
    public MoqRelayStatus Snapshot(string name, IReadOnlyList<string> listening, string? upstream)
    {
        var now = DateTimeOffset.UtcNow;
        var sessions = _sessions.Values.OrderBy(s => s.StartedAt).Select(s =>
        {
            int namespaces, pushed;
            lock (s.Lock)
            {
                namespaces = s.PublishedNamespaces.Count;
                pushed = s.PushedTracks.Count;
            }
            return new MoqSessionStatus(s.Peer.Name, s.Peer.Kind.ToString(), s.Peer.RemoteEndPoint.ToString() ?? "", (now - s.StartedAt).TotalSeconds,
                s.SubscriptionCount, namespaces, pushed, s.ObjectsSent, s.BytesSent, s.ObjectsDropped, s.SubgroupsDropped, s.SendQueueBytes);
        }).ToList();
        var tracks = AllTracks().OrderBy(t => RelayNames.Format(t.Name), StringComparer.Ordinal).Select(TrackStatus).ToList();
        var totals = new MoqRelayTotals(
            _counters.SessionsAccepted, _counters.SessionsRefused, _counters.RequestsRefused, _counters.SubscriptionsAccepted,
            _counters.UpstreamSubscriptions, _counters.FetchesServed, GlobalCache.UsedBytes, GlobalCache.LimitBytes,
            Interlocked.Read(ref _counters.ObjectsIn), Interlocked.Read(ref _counters.ObjectsOut), Interlocked.Read(ref _counters.ObjectsDropped));
        return new MoqRelayStatus(name, Environment.ProcessId, listening, upstream, _options.Auth.IsOpen, _started, now, sessions, tracks, totals);
    }

    private static MoqTrackStatus TrackStatus(RelayTrack t)
    {
        var subscribers = t.SubscribersSnapshot();
        return new MoqTrackStatus(RelayNames.Format(t.Name), t.State.ToString(), t.SourceName, t.IsPushed, t.Largest?.ToString(),
            subscribers.Count, t.Cache.Bytes, t.Cache.GroupCount, Interlocked.Read(ref t.ObjectsIn), Interlocked.Read(ref t.BytesIn),
            subscribers.Sum(s => Interlocked.Read(ref s.ObjectsSent)), subscribers.Sum(s => Interlocked.Read(ref s.ObjectsDropped)));
    }
}
