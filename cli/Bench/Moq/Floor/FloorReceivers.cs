using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using FastRelay.Protocols.Moq.Clients;
using static FastRelay.Net.LinuxSockets;

namespace FastRelay.Cli.Bench.Moq.Floor;

/// <summary>
/// The floor's subscribers: one UDP socket per copy, all read by one thread (as the bench's QUIC subscribers share the
/// bench process): poll(2) on every socket, then recvmmsg(2) in batches on each readable one, the receive time read
/// right after the call returns and applied to its whole batch. An object is delivered to a receiver when the last of
/// its datagrams arrived there; its latency is that receive time minus the send time every datagram carries (Stopwatch
/// ticks: CLOCK_MONOTONIC, one clock across namespaces). No QUIC stack, no reordering, no ACKs: the wire and the kernel.
/// <para>One receive buffer serves every socket (the runtime's ReceiveBatch keeps 4 MiB per socket, 256 MiB at fan-out
/// 64). Anything that is not a floor datagram is counted and dropped; objects still incomplete far behind the newest are
/// forgotten, so a receiver's memory is bounded whatever arrives.</para>
/// </summary>
internal sealed unsafe class FloorReceivers : IDisposable
{
    private const int Batch = 32;
    private const int SlotBytes = 2048; // > FloorDatagrams.MaxDatagramBytes: nothing a floor sends is truncated
    private const int PollTimeoutMs = 50;

    /// <summary>Incomplete objects kept per receiver, by sequence behind the newest seen.</summary>
    private const ulong PartialWindow = 4096;

    private readonly IReadOnlyList<Socket> _sockets;
    private readonly Receiver[] _receivers;
    private readonly byte[] _data = GC.AllocateArray<byte>(Batch * SlotBytes, pinned: true);
    private readonly IoVec* _iov = (IoVec*)NativeMemory.AllocZeroed((nuint)(Batch * sizeof(IoVec)));
    private readonly MMsgHdr* _messages = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(Batch * sizeof(MMsgHdr)));
    private readonly PollFd* _fds;
    private readonly CancellationTokenSource _stop = new();
    private Thread? _thread;
    private Exception? _failure;
    private int _disposed;

    public FloorReceivers(IReadOnlyList<Socket> sockets)
    {
        _sockets = sockets;
        _receivers = sockets.Select(_ => new Receiver()).ToArray();
        _fds = (PollFd*)NativeMemory.AllocZeroed((nuint)(sockets.Count * sizeof(PollFd)));
    }

    public void Start()
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = "floor receivers" };
        _thread.Start();
    }

    /// <summary>Stops reading (waits for the thread); rethrows what stopped it early.</summary>
    public void Stop()
    {
        _stop.Cancel();
        _thread?.Join();
        if (_failure is not null) throw new InvalidOperationException("the floor's receivers failed", _failure);
    }

    /// <summary>Datagrams of an object a receiver had already (or with another count than its first), over every receiver.</summary>
    public long Duplicates => _receivers.Sum(r => r.Duplicates);

    /// <summary>Objects sent in [from, to) (Stopwatch ticks) that every receiver completed, summed over receivers; their
    /// latencies (µs) go into <paramref name="latency"/>. Only after <see cref="Stop"/>.</summary>
    public long DeliveredInWindow(long fromTicks, long toTicks, LatencyHistogram latency)
    {
        long delivered = 0;
        foreach (var r in _receivers)
            foreach (var (sendTicks, latencyTicks) in r.Completed)
            {
                if (sendTicks < fromTicks || sendTicks >= toTicks) continue;
                delivered++;
                latency.Record(latencyTicks * 1_000_000 / Stopwatch.Frequency);
            }
        return delivered;
    }

    private void Loop()
    {
        try
        {
            var n = _sockets.Count;
            while (!_stop.IsCancellationRequested)
            {
                for (var i = 0; i < n; i++) _fds[i] = new PollFd { Fd = (int)_sockets[i].SafeHandle.DangerousGetHandle(), Events = PollIn };
                if (poll(_fds, (nuint)n, PollTimeoutMs) <= 0) continue;
                for (var i = 0; i < n; i++)
                    if ((_fds[i].Revents & PollIn) != 0) Drain(_fds[i].Fd, _receivers[i]);
            }
        }
        catch (Exception e)
        {
            _failure = e;
        }
    }

    private void Drain(int fd, Receiver receiver)
    {
        fixed (byte* data = _data)
        {
            while (true)
            {
                for (var i = 0; i < Batch; i++)
                {
                    _iov[i] = new IoVec { Base = data + i * SlotBytes, Length = SlotBytes };
                    _messages[i] = new MMsgHdr { Header = new MsgHdr { Iov = _iov + i, IovLength = 1 } };
                }
                var count = recvmmsg(fd, _messages, Batch, MsgDontWait, null);
                var now = Stopwatch.GetTimestamp();
                for (var i = 0; i < count; i++)
                    receiver.OnDatagram(_data.AsSpan(i * SlotBytes, (int)Math.Min(_messages[i].Length, SlotBytes)), now);
                if (count < Batch) return;
            }
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        _thread?.Join();
        NativeMemory.Free(_iov);
        NativeMemory.Free(_messages);
        NativeMemory.Free(_fds);
        _stop.Dispose();
    }

    /// <summary>One receiver's objects: those in progress (which datagrams arrived) and those complete.</summary>
    private sealed class Receiver
    {
        private readonly Dictionary<ulong, bool[]?> _objects = [];
        private ulong _newest;

        public List<(long SendTicks, long LatencyTicks)> Completed { get; } = [];
        public long Duplicates { get; private set; }

        public void OnDatagram(ReadOnlySpan<byte> datagram, long receivedTicks)
        {
            // Anything that is not a floor datagram (nothing else is sent to these ports) is dropped uncounted.
            if (!FloorDatagrams.TryReadHeader(datagram, out var h)) return;
            if (h.ObjectSequence + PartialWindow < _newest) return; // long forgotten: neither new nor countable
            if (!_objects.TryGetValue(h.ObjectSequence, out var arrived))
            {
                arrived = new bool[h.Count];
                _objects[h.ObjectSequence] = arrived;
                if (h.ObjectSequence > _newest) Forget(_newest = h.ObjectSequence);
            }
            // null: complete already. A count that differs from the first datagram's is not this object's.
            if (arrived is null || arrived.Length != h.Count || arrived[h.Index])
            {
                Duplicates++;
                return;
            }
            arrived[h.Index] = true;
            if (Array.IndexOf(arrived, false) >= 0) return;
            _objects[h.ObjectSequence] = null;
            Completed.Add((h.SendTicks, receivedTicks - h.SendTicks));
        }

        private void Forget(ulong newest)
        {
            if (_objects.Count <= (int)PartialWindow) return;
            foreach (var sequence in _objects.Keys.Where(s => s + PartialWindow < newest).ToList()) _objects.Remove(sequence);
        }
    }
}
