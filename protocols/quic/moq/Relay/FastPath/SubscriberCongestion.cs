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
/// by userspace, as for budget). The plane recomputes it every 20 ms (<see cref="Update"/>), on a timer of the listener's loop.</item>
/// </list>
/// The signal is the connection's backlog: stream bytes it holds but could not send yet (new, lost or refused by the
/// kernel), as far as it persisted from one refresh to the next (the smaller of the two samples). Each half congestion
/// window of that backlog sheds one more urgency level, least urgent first; the most urgent level seen on the connection
/// is never shed. Why persisted: right after an object arrives, a connection whose window shrank under loss holds most
/// of it for a few round trips — a backlog of several half windows that is gone long before the next object. Sampled
/// alone, that instant shed the subgroups starting in the next 20 ms, each a group's worth of objects (issue 11: the
/// 5 %-loss subscriber of `FastPathMoqLossLabTests` lost whole groups whenever a refresh met such an instant).
/// </summary>
public sealed class SubscriberCongestion
{
    /// <summary>Urgency levels: a publisher priority (0 most urgent .. 255) in steps of 32.</summary>
    public const int Levels = 8;

    private readonly object _lock = new();
    private int _mostUrgent = Levels;   // lowest urgency seen on this connection
    private int _leastUrgent = -1;      // highest urgency seen
    private int _dropFrom = Levels;     // urgency levels at or above this are shed now
    private long _previousUnsent;       // the backlog the previous Update saw
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

    /// <summary>Recomputes the drop threshold from the connection's backlog, this sample and the previous one (called
    /// every refresh interval; its budget bytes are kept exact by the
    /// connection itself: <c>QuicConnection.ObserveFastPathRoom</c>).</summary>
    public uint Update(QuicPathStatistics path)
    {
        var window = Math.Max(path.CongestionWindow, 1);
        lock (_lock)
        {
            var persisted = Math.Min(path.UnsentBytes, _previousUnsent);
            _previousUnsent = path.UnsentBytes;
            var shed = (int)Math.Min(Levels, persisted / Math.Max(window / 2, 1));
            var dropFrom = shed == 0 || _leastUrgent < 0 ? Levels : Math.Max(_leastUrgent + 1 - shed, _mostUrgent + 1);
            _dropFrom = dropFrom;
            return (uint)dropFrom;
        }
    }
}
