using FastRelay.Protocols.Quic.Api;

namespace FastRelay.Protocols.Moq.Relay.FastPath;

/// <summary>
/// How one fast-path subscriber connection's congestion controller drives the kernel and the relay (issue 11,
/// "congestion control drives the kernel automatically"):
/// <list type="bullet">
/// <item>the kernel budget (<c>fr_budgets</c>, mapped into the relay's memory): the congestion window's room. The kernel
/// debits every copy; the connection credits every change of its window, bytes in flight and own sends as it happens
/// (<c>QuicConnection.ObserveFastPathRoom</c>), so the kernel never sends past the window; a copy it refuses is
/// reported and sent by the connection itself, under its controller, on the same stream (a started subgroup is
/// finished, never left with a hole);</item>
/// <item>a drop threshold: urgency levels at or above it are not started. The relay asks <see cref="Admits"/> when a
/// subgroup's stream starts and skips the whole subgroup for this subscriber when it says no (MoQ decides drops per
/// subgroup, at its start). The kernel gets the same threshold for streams already mapped (their copies are then sent
/// by userspace, as for budget). The plane's credit thread recomputes it every 20 ms (<see cref="Update"/>).</item>
/// </list>
/// The signal is the connection's backlog: stream bytes it holds but could not send yet (new, lost or refused by the
/// kernel). Each half congestion window of backlog sheds one more urgency level, least urgent first; the most urgent
/// level seen on the connection is never shed.
/// </summary>
public sealed class SubscriberCongestion
{
    /// <summary>Urgency levels: a publisher priority (0 most urgent .. 255) in steps of 32.</summary>
    public const int Levels = 8;

    private readonly object _lock = new();
    private int _mostUrgent = Levels;   // lowest urgency seen on this connection
    private int _leastUrgent = -1;      // highest urgency seen
    private int _dropFrom = Levels;     // urgency levels at or above this are shed now
    private long _skippedSubgroups;
    // The latest skips: a subgroup's route may be asked twice (at its header and at its first bytes); the second
    // answer must be the first one, or a subgroup counted as skipped would reach the subscriber after all.
    private readonly Queue<(ulong Group, ulong? Subgroup)> _recentSkips = new();
    private const int RecentSkipsKept = 64;

    /// <summary>The kernel's urgency for a subgroup of MoQ publisher priority <paramref name="publisherPriority"/>.</summary>
    public static byte UrgencyOf(byte publisherPriority) => (byte)(publisherPriority >> 5);

    /// <summary>Subgroups not started for this subscriber because its path was congested.</summary>
    public long SkippedSubgroups { get { lock (_lock) return _skippedSubgroups; } }

    /// <summary>Whether subgroup (<paramref name="group"/>, <paramref name="subgroup"/>) of <paramref name="urgency"/>
    /// starts on this connection now; a no is counted as a skip, and asked again, the answer stays no.</summary>
    public bool Admits(byte urgency, ulong group, ulong? subgroup)
    {
        lock (_lock)
        {
            if (urgency < _mostUrgent) _mostUrgent = urgency;
            if (urgency > _leastUrgent) _leastUrgent = urgency;
            if (_recentSkips.Contains((group, subgroup))) return false;
            if (urgency < _dropFrom || urgency <= _mostUrgent) return true;
            if (_recentSkips.Count >= RecentSkipsKept) _recentSkips.Dequeue();
            _recentSkips.Enqueue((group, subgroup));
            _skippedSubgroups++;
            return false;
        }
    }

    /// <summary>Recomputes the drop threshold from the connection's backlog (its budget bytes are kept exact by the
    /// connection itself: <c>QuicConnection.ObserveFastPathRoom</c>).</summary>
    public uint Update(QuicPathStatistics path)
    {
        var window = Math.Max(path.CongestionWindow, 1);
        var shed = (int)Math.Min(Levels, path.UnsentBytes / Math.Max(window / 2, 1));
        lock (_lock)
        {
            var dropFrom = shed == 0 || _leastUrgent < 0 ? Levels : Math.Max(_leastUrgent + 1 - shed, _mostUrgent + 1);
            _dropFrom = dropFrom;
            return (uint)dropFrom;
        }
    }
}
