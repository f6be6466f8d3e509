using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using FastRelay.Bpf.Native;

namespace FastRelay.Bpf;

/// <summary>Receives one ring buffer record. The span points into the kernel-shared pages and is valid only during the call.</summary>
public delegate void RingBufferRecordHandler(ReadOnlySpan<byte> record);

/// <summary>
/// Reads a BPF_MAP_TYPE_RINGBUF map through libbpf's ring_buffer. Records are handed to the handler straight from
/// the mapped pages (no per-record allocation). Producers that use BPF_RB_NO_WAKEUP do not wake <see cref="Poll"/>,
/// so readers of such maps call <see cref="Consume"/> on their own schedule and batch many records per call.
/// Poll/consume from one thread at a time. <see cref="Dispose"/> may come from any thread, even during a poll/consume or
/// from inside the handler: no record is delivered after it, and the callback context and the ring buffer are freed only
/// when the call in flight has returned.
/// </summary>
public sealed unsafe class RingBufferReader : IDisposable
{
    private readonly RingBufferRecordHandler _handler;
    private readonly BpfObject _owner;
    private readonly RingBufferHandle _rb;
    private readonly GCHandle _self;
    private ExceptionDispatchInfo? _handlerFailure;
    private volatile bool _disposed;
    private int _disposeStarted;

    public RingBufferReader(BpfMap map, RingBufferRecordHandler handler)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(handler);
        if (map.Type != BpfMapType.Ringbuf)
            throw new ArgumentException($"map '{map.Name}' is {map.Type}, not a ring buffer", nameof(map));
        _handler = handler;
        _owner = map.Object;
        Map = map;

        // The reader pins the object: closing it underneath a running reader would free the map fd we poll.
        bool added = false;
        _owner.Handle.DangerousAddRef(ref added);
        // Weak: an undisposed reader can still be collected (the SafeHandle then frees the ring_buffer).
        _self = GCHandle.Alloc(this, GCHandleType.Weak);
        try
        {
            using var capture = LibBpfLog.CaptureWarnings();
            nint rb = LibBpf.ring_buffer__new(map.Fd, &OnRecord, (void*)GCHandle.ToIntPtr(_self), null);
            if (rb == 0) throw new BpfException($"ring_buffer__new for map {map.Name}", Marshal.GetLastPInvokeError(), capture.Warnings);
            var self = _self;
            var owner = _owner;
            // Freed with the ring buffer, after the last lease: a Dispose during Consume must not pull the callback's
            // context (or the object's map fd) from under it.
            _rb = new RingBufferHandle(rb, () =>
            {
                self.Free();
                owner.Handle.DangerousRelease();
            });
        }
        catch
        {
            _self.Free();
            _owner.Handle.DangerousRelease();
            throw;
        }
    }

    public BpfMap Map { get; }

    /// <summary>An epoll fd that becomes readable when records arrive with a wakeup, for integration in event loops.</summary>
    public int EpollFd { get { using var _ = new Lease(_rb); return LibBpf.ring_buffer__epoll_fd(_rb.DangerousGetHandle()); } }

    /// <summary>Waits up to <paramref name="timeout"/> (infinite: -1 ms) for a wakeup, then consumes all
    /// available records. Returns the number of records handled.</summary>
    public int Poll(TimeSpan timeout)
    {
        using var _ = new Lease(_rb);
        int ms = timeout == Timeout.InfiniteTimeSpan ? -1 : (int)Math.Clamp(timeout.TotalMilliseconds, 0, int.MaxValue);
        return Finish(LibBpf.ring_buffer__poll(_rb.DangerousGetHandle(), ms), "ring_buffer__poll");
    }

    /// <summary>Handles every record available now without waiting; returns how many.</summary>
    public int Consume()
    {
        using var _ = new Lease(_rb);
        return Finish(LibBpf.ring_buffer__consume(_rb.DangerousGetHandle()), "ring_buffer__consume");
    }

    private int Finish(int result, string operation)
    {
        // Disposed during the call: the handler stopped the batch on purpose.
        if (_disposed) return Math.Max(result, 0);
        if (_handlerFailure is { } failure)
        {
            _handlerFailure = null;
            failure.Throw();
        }
        // A signal (the runtime uses them for GC suspension) interrupting epoll_wait is not an error.
        if (result == -LibC.EINTR) return 0;
        return BpfError.Check(result, $"{operation} on map {Map.Name}");
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnRecord(void* ctx, void* data, nuint size)
    {
        var reader = (RingBufferReader?)GCHandle.FromIntPtr((nint)ctx).Target;
        if (reader is null || reader._disposed) return -1;
        try
        {
            reader._handler(new ReadOnlySpan<byte>(data, (int)size));
            return 0;
        }
        catch (Exception e)
        {
            // Exceptions cannot cross libbpf's frames: stop this batch (the record counts as consumed) and rethrow
            // from Poll/Consume.
            reader._handlerFailure = ExceptionDispatchInfo.Capture(e);
            return -1;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposeStarted, 1) != 0) return;
        _disposed = true;
        _rb.Dispose(); // the release (and the context's) waits for a Poll/Consume in flight
    }
}
