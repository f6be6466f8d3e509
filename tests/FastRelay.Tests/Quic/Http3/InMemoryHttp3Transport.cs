using System.Collections.Concurrent;
using System.Threading.Channels;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Http3;

namespace FastRelay.Tests.Quic.Http3;

/// <summary>
/// Two connected in-memory <see cref="IHttp3Connection"/>s with QUIC's stream semantics that HTTP/3 relies on:
/// ordered bytes per direction, FIN, RESET_STREAM/STOP_SENDING with codes (surfacing as QuicException
/// StreamAborted), stream ids by initiator and direction, and connection close with a code (surfacing as
/// ConnectionAborted). No flow control: buffers are unbounded, which is fine for test-sized bodies.
/// </summary>
public sealed class InMemoryHttp3Connection : IHttp3Connection
{
    private readonly Channel<IHttp3Stream> _inbound = Channel.CreateUnbounded<IHttp3Stream>();
    private readonly ConcurrentBag<Pipe> _pipes = [];
    private readonly bool _isServer;
    private long _nextBidi, _nextUni;
    private InMemoryHttp3Connection _peer = null!;

    private InMemoryHttp3Connection(bool isServer)
    {
        _isServer = isServer;
    }

    /// <summary>The application error code this side closed the connection with (null if it did not).</summary>
    public long? ClosedWith { get; private set; }

    public static (InMemoryHttp3Connection Client, InMemoryHttp3Connection Server) CreatePair()
    {
        var client = new InMemoryHttp3Connection(false);
        var server = new InMemoryHttp3Connection(true);
        client._peer = server;
        server._peer = client;
        return (client, server);
    }

    public ValueTask<IHttp3Stream> OpenOutboundStreamAsync(QuicStreamType type, CancellationToken cancellationToken = default)
    {
        long sequence = type == QuicStreamType.Bidirectional ? Interlocked.Increment(ref _nextBidi) - 1 : Interlocked.Increment(ref _nextUni) - 1;
        long id = sequence * 4 + (type == QuicStreamType.Unidirectional ? 2 : 0) + (_isServer ? 1 : 0);
        var forward = new Pipe();
        var backward = new Pipe();
        _pipes.Add(forward);
        _pipes.Add(backward);
        _peer._pipes.Add(forward);
        _peer._pipes.Add(backward);
        var local = new Endpoint(id, type, type == QuicStreamType.Bidirectional ? backward : null, forward);
        var remote = new Endpoint(id, type, forward, type == QuicStreamType.Bidirectional ? backward : null);
        _peer._inbound.Writer.TryWrite(remote);
        return ValueTask.FromResult<IHttp3Stream>(local);
    }

    public async ValueTask<IHttp3Stream> AcceptInboundStreamAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _inbound.Reader.ReadAsync(cancellationToken);
        }
        catch (ChannelClosedException e)
        {
            throw e.InnerException ?? new QuicException(QuicErrorKind.ConnectionAborted, "closed");
        }
    }

    public ValueTask CloseAsync(long errorCode, CancellationToken cancellationToken = default)
    {
        ClosedWith ??= errorCode;
        var error = new QuicException(QuicErrorKind.ConnectionAborted, $"connection closed with 0x{errorCode:x}", errorCode);
        foreach (var side in new[] { this, _peer })
        {
            side._inbound.Writer.TryComplete(error);
            foreach (var pipe in side._pipes)
                pipe.Fail(error);
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => CloseAsync(0);

    /// <summary>One direction of a stream.</summary>
    public sealed class Pipe
    {
        private readonly Channel<byte[]> _chunks = Channel.CreateUnbounded<byte[]>();
        private ReadOnlyMemory<byte> _current;
        private volatile Exception? _failure;

        public long? ResetCode { get; private set; }
        public long? StopSendingCode { get; private set; }

        public void Write(ReadOnlySpan<byte> data)
        {
            if (_failure is { } failure)
                throw failure;
            if (!data.IsEmpty && !_chunks.Writer.TryWrite(data.ToArray()))
                throw new InvalidOperationException("write after FIN");
        }

        public void Complete() => _chunks.Writer.TryComplete();

        public void Reset(long code)
        {
            ResetCode ??= code;
            Fail(new QuicException(QuicErrorKind.StreamAborted, $"stream reset with 0x{code:x}", code));
        }

        public void StopSending(long code)
        {
            StopSendingCode ??= code;
            Fail(new QuicException(QuicErrorKind.StreamAborted, $"STOP_SENDING 0x{code:x}", code));
        }

        public void Fail(Exception error)
        {
            _failure ??= error;
            _chunks.Writer.TryComplete(error);
        }

        public async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
        {
            if (_current.IsEmpty)
            {
                try
                {
                    if (!await _chunks.Reader.WaitToReadAsync(cancellationToken))
                        return 0;
                }
                catch (ChannelClosedException e) when (e.InnerException is not null)
                {
                    throw e.InnerException;
                }
                if (!_chunks.Reader.TryRead(out var chunk))
                    return 0;
                _current = chunk;
            }
            int n = Math.Min(destination.Length, _current.Length);
            _current.Span[..n].CopyTo(destination.Span);
            _current = _current[n..];
            return n;
        }
    }

    public sealed class Endpoint(long id, QuicStreamType type, Pipe? reads, Pipe? writes) : IHttp3Stream
    {
        public long Id => id;
        public QuicStreamType Type => type;
        public Pipe? Reads => reads;
        public Pipe? Writes => writes;

        public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            reads?.ReadAsync(buffer, cancellationToken) ?? throw new InvalidOperationException("send-only stream");

        public ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, bool completeWrites, CancellationToken cancellationToken = default)
        {
            var pipe = writes ?? throw new InvalidOperationException("receive-only stream");
            pipe.Write(buffer.Span);
            if (completeWrites)
                pipe.Complete();
            return ValueTask.CompletedTask;
        }

        public void CompleteWrites() => writes?.Complete();

        public void Abort(QuicAbortDirection direction, long errorCode)
        {
            if ((direction & QuicAbortDirection.Write) != 0)
                writes?.Reset(errorCode);
            if ((direction & QuicAbortDirection.Read) != 0)
                reads?.StopSending(errorCode);
        }
    }
}
