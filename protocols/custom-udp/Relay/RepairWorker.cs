using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.CustomUdp.Relay;

/// <summary>
/// One thread that does slow work handed over by the receive thread, from a bounded queue: when it is behind, new work is
/// refused at once (the caller counts it) instead of piling up or blocking the receive thread.
/// </summary>
public sealed class RepairWorker<TWork, TState>(string name, int depth, Func<TState> state, Action<TWork, TState> work, ILogger log)
{
    private readonly BlockingCollection<TWork> _queue = new(new ConcurrentQueue<TWork>(), depth);
    private Thread? _thread;

    public void Start()
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>False when the queue is full (or the worker stopped).</summary>
    public bool TryQueue(TWork item)
    {
        try
        {
            return _queue.TryAdd(item);
        }
        catch (InvalidOperationException)
        {
            return false; // completed: the relay is stopping
        }
    }

    /// <summary>Lets queued work finish, then ends the thread.</summary>
    public void Stop()
    {
        _queue.CompleteAdding();
        _thread?.Join();
    }

    private void Loop()
    {
        var mine = state();
        foreach (var item in _queue.GetConsumingEnumerable())
        {
            try
            {
                work(item, mine);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                log.LogError(e, "{Worker}: work item failed", name);
            }
        }
    }
}
