namespace FastRelay.Protocols.Quic.Streams;

/// <summary>
/// The streams that have data (or a FIN) to send, by send priority: a lower number is more urgent and goes first;
/// streams of equal priority share round robin. One FIFO queue per priority level, levels kept sorted; with every
/// stream at the default priority there is exactly one level, so the common path is the single queue it always was.
/// <para>Levels are created by <see cref="EnsureLevel"/> (when a priority is set) and never removed — a connection
/// uses a handful of priorities — so <see cref="Enqueue"/> never changes the level list, and the packer may re-queue
/// streams while it walks the levels.</para>
/// </summary>
internal sealed class StreamSendScheduler
{
    private readonly List<(int Priority, Queue<StreamState> Queue)> _levels = [(0, new Queue<StreamState>())];

    public int LevelCount => _levels.Count;

    public int PriorityAt(int level) => _levels[level].Priority;

    public Queue<StreamState> QueueAt(int level) => _levels[level].Queue;

    public void EnsureLevel(int priority)
    {
        int i = 0;
        while (i < _levels.Count && _levels[i].Priority < priority) i++;
        if (i < _levels.Count && _levels[i].Priority == priority) return;
        _levels.Insert(i, (priority, new Queue<StreamState>()));
    }

    /// <summary>
    /// Gives a stream a new priority; if it is queued, it moves to the back of its new level at once (so the change
    /// applies to the very next packet). Removing from a FIFO is linear, which is fine for something done rarely.
    /// </summary>
    public void ChangePriority(StreamState s, int priority)
    {
        EnsureLevel(priority);
        if (s.SendPriority == priority) return;
        if (s.InSendQueue)
            foreach (var (old, queue) in _levels)
            {
                if (old != s.SendPriority) continue;
                for (int i = queue.Count; i > 0; i--)
                {
                    var next = queue.Dequeue();
                    if (next != s) queue.Enqueue(next);
                }
                break;
            }
        s.SendPriority = priority;
        if (s.InSendQueue) Enqueue(s);
    }

    /// <summary>At the back of the stream's priority level (which <see cref="EnsureLevel"/> created when it was set).</summary>
    public void Enqueue(StreamState s)
    {
        if (_levels.Count == 1) _levels[0].Queue.Enqueue(s);   // the common case: one priority for everything
        else
            foreach (var (priority, queue) in _levels)
                if (priority == s.SendPriority)
                {
                    queue.Enqueue(s);
                    return;
                }
    }
}
