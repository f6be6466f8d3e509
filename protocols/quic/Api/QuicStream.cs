using FastRelay.Protocols.Quic.Io;
using FastRelay.Protocols.Quic.Streams;

namespace FastRelay.Protocols.Quic.Api;

/// <summary>
/// A QUIC stream as a <see cref="Stream"/>, shaped like System.Net.Quic.QuicStream. Reads and writes go to the
/// connection's <see cref="StreamTable"/> under the connection lock; when nothing can be read (or no buffer space is
/// free) the call waits for the matching stream event.
/// </summary>
public sealed class QuicStream : Stream
{
    private readonly QuicConnection _connection;
    private readonly TaskCompletionSource _readsClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _writesClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource? _readWaiter;
    private TaskCompletionSource? _writeWaiter;
    private Exception? _readError;
    private Exception? _writeError;
    // The connection closed while data (or the FIN) was still unread: reads return it first, then throw this.
    private Exception? _connectionError;
    private bool _readFinished;
    private bool _writeCompleted;

    internal QuicStream(QuicConnection connection, ulong id, QuicStreamType type, bool canRead, bool canWrite)
    {
        _connection = connection;
        Id = (long)id;
        Type = type;
        CanRead = canRead;
        CanWrite = canWrite;
        if (!canRead) _readsClosed.TrySetResult();
        if (!canWrite) _writesClosed.TrySetResult();
    }

    public long Id { get; }
    public QuicStreamType Type { get; }

    /// <summary>
    /// Opt-in, set before the first read: a <see cref="ReadAsync(Memory{byte}, CancellationToken)"/> waiting for data
    /// resumes on the connection's receive thread, right after the datagrams that brought the data were processed and
    /// the connection's lock released, instead of on a thread-pool thread. That saves one thread hand-off per read (tens
    /// of µs each on a busy machine: most of a MoQ object's time in a subscriber's stack). The reader's code then runs on
    /// the receive thread until its next wait, so it must not block (no synchronous waits, no long work); everything
    /// else that wakes the read (a close, a reset from a timer, an abort) still resumes it on the thread pool.
    /// </summary>
    public bool CompletesReadsOnReceiveThread { get; set; }

    /// <summary>
    /// Send priority: data of streams with a lower value leaves first; streams of equal priority share the connection
    /// round robin. Default 0; negative values are allowed. Takes effect from the next packet.
    /// </summary>
    public int SendPriority
    {
        get => _sendPriority;
        set
        {
            lock (_connection.Lock)
            {
                _sendPriority = value;
                _connection.Core.Streams.SetSendPriority((ulong)Id, value);
            }
        }
    }

    private int _sendPriority;

    /// <summary>
    /// Kernel fast path, publisher side: new data of this stream leaves one STREAM frame per packet in the layout the
    /// relay's TC program parses (8-byte stream id and offset, no Length; see protocols/quic/README.md). Effective only
    /// when both ends negotiated disable_1rtt_encryption; retransmissions use ordinary packets.
    /// </summary>
    public bool UseFastPathLayout
    {
        get { lock (_connection.Lock) return _connection.Core.Streams.UsesFastPathLayout((ulong)Id); }
        set
        {
            lock (_connection.Lock)
            {
                _connection.ThrowIfClosedLocked();
                _connection.Core.Streams.SetFastPathLayout((ulong)Id, value);
                _connection.AfterChangeLocked(Io.QuicClock.NowMicros);
            }
        }
    }


    /// <summary>
    /// Kernel fast path, relay side: bytes written from <paramref name="forwardFrom"/> on are a shadow copy — the kernel
    /// sends them, this stream keeps them for retransmission and sends a range only when the kernel reports it not
    /// forwarded (<see cref="QuicConnection.ReportNotForwarded"/>) or it is declared lost. Call before writing there.
    /// </summary>
    public void BeginKernelForwarding(long forwardFrom)
    {
        lock (_connection.Lock)
        {
            _connection.ThrowIfClosedLocked();
            _connection.Core.Streams.BeginKernelForwarding((ulong)Id, (ulong)forwardFrom);
        }
    }
    public bool CanBeAborted => true;
    public Task ReadsClosed => _readsClosed.Task;
    public Task WritesClosed => _writesClosed.Task;

    public override bool CanRead { get; }
    public override bool CanWrite { get; }
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!CanRead) throw new InvalidOperationException("this stream cannot be read (a unidirectional stream we opened)");
        while (true)
        {
            Task wait;
            lock (_connection.Lock)
            {
                if (_readError is not null) throw _readError;
                if (_readFinished) return 0;
                int n = _connection.Core.Streams.Read((ulong)Id, buffer.Span, out bool fin);
                if (fin) FinishReadsLocked();
                if (n > 0 || fin || buffer.IsEmpty)
                {
                    // Reading frees receive window: let MAX_STREAM_DATA / MAX_DATA leave now (not after a close).
                    if (n > 0 && _connectionError is null) _connection.AfterChangeLocked(QuicClock.NowMicros);
                    return n;
                }
                if (_connectionError is not null)
                {
                    // Everything received before the close has been read: now the close is the answer.
                    FailReadsLocked(_connectionError);
                    throw _connectionError;
                }
                // Inline completion: never completed under the lock (WakeRead hands it out or to the thread pool).
                _readWaiter ??= CompletesReadsOnReceiveThread ? new TaskCompletionSource() : new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _readWaiter.Task;
            }
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        WriteAsync(buffer, false, cancellationToken);

    public ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, bool completeWrites, CancellationToken cancellationToken = default) =>
        WriteAsync(buffer, ReadOnlyMemory<byte>.Empty, completeWrites, cancellationToken);

    /// <summary>
    /// Writes <paramref name="first"/> then <paramref name="second"/> (a message header and its payload, say) as if one
    /// buffer: both are queued before anything is sent, so a small header does not leave in a packet of its own ahead
    /// of its payload — the MoQ relay did that for every object and subscriber (a third more packets at 2.5 kB objects).
    /// </summary>
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> first, ReadOnlyMemory<byte> second, bool completeWrites,
        CancellationToken cancellationToken = default)
    {
        if (!CanWrite) throw new InvalidOperationException("this stream cannot be written (a unidirectional stream the peer opened)");
        while (true)
        {
            Task wait;
            lock (_connection.Lock)
            {
                if (_writeError is not null) throw _writeError;
                if (_writeCompleted) throw new InvalidOperationException("writes were already completed on this stream");
                _connection.ThrowIfClosedLocked();
                // A relay's shadow write (kernel fast path) gives this connection nothing to send: no send pass after it.
                bool silent = _connection.Core.Streams.IsSilentShadowWrite((ulong)Id, first.Length + second.Length, completeWrites);
                if (!first.IsEmpty) first = first[_connection.Core.Streams.Write((ulong)Id, first.Span, false)..];
                // The second buffer only once the first is all in: the bytes stay in order.
                if (first.IsEmpty && !second.IsEmpty) second = second[_connection.Core.Streams.Write((ulong)Id, second.Span, false)..];
                var buffer = first.IsEmpty ? second : first;
                if (buffer.IsEmpty && completeWrites)
                {
                    _connection.Core.Streams.Write((ulong)Id, ReadOnlySpan<byte>.Empty, true);
                    _writeCompleted = true;
                }
                _connection.AfterChangeLocked(QuicClock.NowMicros, sendPass: !silent);
                if (buffer.IsEmpty) return;
                _writeWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _writeWaiter.Task;
            }
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void CompleteWrites()
    {
        lock (_connection.Lock)
        {
            if (_writeCompleted || _writeError is not null || !CanWrite) return;
            _connection.ThrowIfClosedLocked();
            _connection.Core.Streams.Write((ulong)Id, ReadOnlySpan<byte>.Empty, true);
            _writeCompleted = true;
            _connection.AfterChangeLocked(QuicClock.NowMicros);
        }
    }

    public void Abort(QuicAbortDirection direction, long errorCode)
    {
        lock (_connection.Lock)
        {
            if (direction.HasFlag(QuicAbortDirection.Write) && CanWrite && _writeError is null && !_writesClosed.Task.IsCompleted)
            {
                _connection.Core.Streams.ResetStream((ulong)Id, (ulong)errorCode);
                FailWritesLocked(new QuicException(QuicErrorKind.OperationAborted, "the stream's writes were aborted locally", errorCode));
            }
            if (direction.HasFlag(QuicAbortDirection.Read) && CanRead && _readError is null && !_readFinished)
            {
                _connection.Core.Streams.StopSending((ulong)Id, (ulong)errorCode);
                FailReadsLocked(new QuicException(QuicErrorKind.OperationAborted, "the stream's reads were aborted locally", errorCode));
            }
            _connection.AfterChangeLocked(QuicClock.NowMicros);
        }
    }

    internal void OnEventLocked(in StreamEvent e)
    {
        switch (e.Kind)
        {
            case StreamEventKind.Readable:
                WakeRead();
                break;
            case StreamEventKind.Writable:
                Wake(ref _writeWaiter);
                break;
            case StreamEventKind.PeerReset:
                FailReadsLocked(new QuicException(QuicErrorKind.StreamAborted, $"the peer reset stream {Id} (code 0x{e.ErrorCode:x})", (long)e.ErrorCode));
                break;
            case StreamEventKind.PeerStopSending:
                FailWritesLocked(new QuicException(QuicErrorKind.StreamAborted, $"the peer stopped reading stream {Id} (code 0x{e.ErrorCode:x})", (long)e.ErrorCode));
                break;
            case StreamEventKind.WritesAcknowledged:
                _writesClosed.TrySetResult();
                MaybeForgetLocked();
                break;
        }
    }

    /// <summary>
    /// The connection entered closing or draining. Writes fail at once. Reads fail at once only when nothing is left to
    /// read: bytes (and a FIN) that arrived before the peer's CONNECTION_CLOSE were acknowledged to it, so they stay
    /// readable, and the read after the last of them throws <paramref name="error"/>.
    /// </summary>
    internal void OnConnectionClosedLocked(Exception error)
    {
        FailWritesLocked(error);
        if (_readsClosed.Task.IsCompleted) return;
        if (CanRead && _readError is null && _connection.Core.Streams.HasUnreadData((ulong)Id))
        {
            _connectionError = error;
            WakeRead();
            return;
        }
        FailReadsLocked(error);
    }

    private void FinishReadsLocked()
    {
        _readFinished = true;
        _readsClosed.TrySetResult();
        MaybeForgetLocked();
    }

    private void FailReadsLocked(Exception error)
    {
        if (_readsClosed.Task.IsCompleted) return;
        _readError = error;
        _readsClosed.TrySetException(error);
        _ = _readsClosed.Task.Exception; // observed: a stream nobody reads must not crash the finalizer thread
        WakeRead(); // the woken call re-checks and throws the stored error
    }

    private void FailWritesLocked(Exception error)
    {
        if (_writesClosed.Task.IsCompleted) return;
        _writeError = error;
        _writesClosed.TrySetException(error);
        _ = _writesClosed.Task.Exception;
        WakeWithError(ref _writeWaiter, error);
    }

    private void MaybeForgetLocked()
    {
        if (_readsClosed.Task.IsCompleted && _writesClosed.Task.IsCompleted) _connection.ForgetStreamLocked((ulong)Id);
    }

    /// <summary>Wakes a waiting read. An inline waiter (<see cref="CompletesReadsOnReceiveThread"/>) runs its reader when
    /// completed, so it is never completed here, under the connection's lock: the receive thread completes it after it
    /// released the lock (<see cref="QuicConnection.DeferReadWake"/>), any other thread through the thread pool.</summary>
    private void WakeRead()
    {
        var w = _readWaiter;
        _readWaiter = null;
        if (w is null) return;
        if (!CompletesReadsOnReceiveThread || w.Task.CreationOptions.HasFlag(TaskCreationOptions.RunContinuationsAsynchronously)) w.TrySetResult();
        else if (!_connection.DeferReadWake(w)) ThreadPool.UnsafeQueueUserWorkItem(static t => t.TrySetResult(), w, preferLocal: false);
    }

    private static void Wake(ref TaskCompletionSource? waiter)
    {
        var w = waiter;
        waiter = null;
        w?.TrySetResult();
    }

    private static void WakeWithError(ref TaskCompletionSource? waiter, Exception error)
    {
        var w = waiter;
        waiter = null;
        w?.TrySetResult(); // the woken call re-checks and throws the stored error
        _ = error;
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override void Flush() { }
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        // Like System.Net.Quic: disposing completes writes gracefully and stops reading what is left.
        if (disposing)
        {
            try
            {
                lock (_connection.Lock)
                {
                    if (CanWrite && !_writeCompleted && _writeError is null && !_writesClosed.Task.IsCompleted && !IsConnectionGoneLocked())
                    {
                        _connection.Core.Streams.Write((ulong)Id, ReadOnlySpan<byte>.Empty, true);
                        _writeCompleted = true;
                    }
                    if (CanRead && !_readFinished && _readError is null && !IsConnectionGoneLocked())
                    {
                        _connection.Core.Streams.StopSending((ulong)Id, 0);
                        _readError = new ObjectDisposedException(nameof(QuicStream));
                    }
                    if (!IsConnectionGoneLocked()) _connection.AfterChangeLocked(QuicClock.NowMicros);
                }
            }
            catch (InvalidOperationException)
            {
                // The table already forgot the stream: nothing left to finish.
            }
        }
        base.Dispose(disposing);
    }

    private bool IsConnectionGoneLocked() => _connection.Core.Phase is not (Connection.ConnectionPhase.Handshaking or Connection.ConnectionPhase.Established);
}
