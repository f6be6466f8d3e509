using System.Diagnostics;
using System.Net.Sockets;

namespace FastRelay.Cli.Bench.Moq.Floor;

/// <summary>
/// The floor's publisher: on a thread of its own, sends each object of the plan when it is due (relative to the start),
/// as its datagrams back to back on a connected UDP socket (in the lab's publisher namespace), every datagram stamped
/// with the object's send time taken just before its first datagram. Notes what it sent, so a window counts what was
/// really sent in it, not what was asked.
/// </summary>
internal sealed class FloorSender
{
    private readonly List<(ulong Sequence, long SendTicks, int PayloadBytes, int Datagrams)> _sent = [];
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource<long> _firstSend = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Stopwatch ticks of the first object sent.</summary>
    public Task<long> FirstSendTicks => _firstSend.Task;

    /// <summary>Sends until <paramref name="stop"/> fires; completes with the objects sent (or faults with the socket's error).</summary>
    public Task<long> RunAsync(Socket socket, IEnumerable<FloorObject> plan, CancellationToken stop)
    {
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try { done.SetResult(Send(socket, plan, stop)); }
            catch (Exception e) { done.SetException(e); _firstSend.TrySetException(e); }
        }) { IsBackground = true, Name = "floor sender" };
        thread.Start();
        return done.Task;
    }

    private long Send(Socket socket, IEnumerable<FloorObject> plan, CancellationToken stop)
    {
        var buffer = new byte[FloorDatagrams.MaxDatagramBytes];
        var start = Stopwatch.GetTimestamp();
        long objects = 0;
        foreach (var o in plan)
        {
            var due = start + o.DueMicroseconds * Stopwatch.Frequency / 1_000_000;
            // Sleeping to the millisecond is enough: the send time is stamped when the object really goes, so late pacing
            // moves the object's stamp, not its latency.
            while (!stop.IsCancellationRequested && Stopwatch.GetTimestamp() < due)
                stop.WaitHandle.WaitOne(TimeSpan.FromTicks(Math.Max(1, (due - Stopwatch.GetTimestamp()) * TimeSpan.TicksPerSecond / Stopwatch.Frequency)));
            if (stop.IsCancellationRequested) break;
            if (o.DatagramBytes.Length > FloorDatagrams.MaxDatagramsPerObject)
                throw new InvalidOperationException($"object {o.Sequence}: {o.DatagramBytes.Length} datagrams, more than the floor's {FloorDatagrams.MaxDatagramsPerObject}");
            var sendTicks = Stopwatch.GetTimestamp();
            for (var i = 0; i < o.DatagramBytes.Length; i++)
            {
                FloorDatagrams.WriteHeader(buffer, new FloorDatagramHeader(o.Sequence, i, o.DatagramBytes.Length, sendTicks));
                socket.Send(buffer.AsSpan(0, o.DatagramBytes[i]));
            }
            lock (_lock) _sent.Add((o.Sequence, sendTicks, o.PayloadBytes, o.DatagramBytes.Length));
            _firstSend.TrySetResult(sendTicks);
            objects++;
        }
        _firstSend.TrySetCanceled(stop);
        return objects;
    }

    /// <summary>Objects sent with a send time in [from, to) (Stopwatch ticks): count, payload bytes, datagrams.</summary>
    public (long Objects, long PayloadBytes, long Datagrams) SentBetween(long fromTicks, long toTicks)
    {
        lock (_lock)
        {
            long objects = 0, bytes = 0, datagrams = 0;
            foreach (var (_, sendTicks, size, count) in _sent)
                if (sendTicks >= fromTicks && sendTicks < toTicks)
                {
                    objects++;
                    bytes += size;
                    datagrams += count;
                }
            return (objects, bytes, datagrams);
        }
    }
}
