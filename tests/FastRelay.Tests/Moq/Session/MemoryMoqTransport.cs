using System.IO.Pipelines;
using System.Net;
using System.Threading.Channels;
using FastRelay.Protocols.Moq.Transport;

namespace FastRelay.Tests.Moq.Session;

/// <summary>
/// Two connected in-memory <see cref="IMoqTransport"/>s: streams are pipes (with back pressure), resets and
/// STOP_SENDING surface as IOExceptions, closing one side closes both with the code. Deterministic and fast.
/// </summary>
internal sealed class MemoryMoqTransport : IMoqTransport
{
    private readonly Channel<IMoqStream> _incoming = Channel.CreateUnbounded<IMoqStream>();
    private readonly Channel<ReadOnlyMemory<byte>> _datagrams = Channel.CreateUnbounded<ReadOnlyMemory<byte>>();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _isClient;
    private MemoryMoqTransport _peer = null!;
    private long _nextBidi, _nextUni;

    private MemoryMoqTransport(bool isClient)
    {
        _isClient = isClient;
        _nextBidi = isClient ? 0 : 1;
        _nextUni = isClient ? 2 : 3;
    }

    public static (MemoryMoqTransport Client, MemoryMoqTransport Server) CreatePair()
    {
        var client = new MemoryMoqTransport(true);
        var server = new MemoryMoqTransport(false);
        client._peer = server;
        server._peer = client;
        return (client, server);
    }

    public string Protocol => "moqt-19";
    public MoqTransportKind Kind => MoqTransportKind.Quic;
    public EndPoint RemoteEndPoint => new IPEndPoint(IPAddress.Loopback, _isClient ? 4433 : 50000);
    public Task Closed => _closed.Task;
    public ulong? CloseErrorCode { get; private set; }
    public int DatagramLimit { get; set; } = 1200;

    /// <summary>Every stream this side opened, in order (to look at what the session set on them).</summary>
    public List<IMoqStream> OpenedStreams { get; } = new();
    public int MaxDatagramPayload => DatagramLimit;

    /// <summary>
    /// From now on, unidirectional streams this side opens swallow what is written (synchronously, without allocating)
    /// and never reach the peer: lets a test measure the sender's own cost per object.
    /// </summary>
    public bool DiscardNewUnidirectionalStreams { get; set; }

    public ValueTask<IMoqStream> OpenStreamAsync(bool bidirectional, CancellationToken cancellationToken = default)
    {
        if (_closed.Task.IsCompleted) throw new IOException("transport closed");
        if (!bidirectional && DiscardNewUnidirectionalStreams)
        {
            var discarding = new DiscardingStream(Interlocked.Add(ref _nextUni, 4) - 4);
            lock (OpenedStreams) OpenedStreams.Add(discarding);
            return ValueTask.FromResult<IMoqStream>(discarding);
        }
        long id = bidirectional ? Interlocked.Add(ref _nextBidi, 4) - 4 : Interlocked.Add(ref _nextUni, 4) - 4;
        var forward = new Direction();
        var backward = new Direction();
        var local = new MemoryStreamEnd(id, bidirectional, send: forward, receive: bidirectional ? backward : null);
        var remote = new MemoryStreamEnd(id, bidirectional, send: bidirectional ? backward : null, receive: forward);
        _peer._incoming.Writer.TryWrite(remote);
        lock (OpenedStreams) OpenedStreams.Add(local);
        return ValueTask.FromResult<IMoqStream>(local);
    }

    public async ValueTask<IMoqStream> AcceptStreamAsync(CancellationToken cancellationToken = default)
    {
        try { return await _incoming.Reader.ReadAsync(cancellationToken); }
        catch (ChannelClosedException) { throw new IOException("transport closed"); }
    }

    public bool TrySendDatagram(ReadOnlySpan<byte> payload) =>
        payload.Length <= DatagramLimit && !_closed.Task.IsCompleted && _peer._datagrams.Writer.TryWrite(payload.ToArray());

    public async ValueTask<ReadOnlyMemory<byte>> ReceiveDatagramAsync(CancellationToken cancellationToken = default)
    {
        try { return await _datagrams.Reader.ReadAsync(cancellationToken); }
        catch (ChannelClosedException) { throw new IOException("transport closed"); }
    }

    public ValueTask CloseAsync(ulong errorCode, string reason, CancellationToken cancellationToken = default)
    {
        Shut(errorCode);
        _peer.Shut(errorCode);
        return ValueTask.CompletedTask;
    }

    private void Shut(ulong code)
    {
        lock (_closed)
        {
            if (_closed.Task.IsCompleted) return;
            CloseErrorCode = code;
        }
        _incoming.Writer.TryComplete();
        _datagrams.Writer.TryComplete();
        _closed.TrySetResult();
    }

    public ValueTask DisposeAsync() => CloseAsync(0, "");

    /// <summary>A send-only stream that counts and drops what is written.</summary>
    internal sealed class DiscardingStream(long id) : IMoqStream
    {
        public long BytesWritten;
        public long Id => id;
        public bool IsBidirectional => false;
        public bool CanRead => false;
        public bool CanWrite => true;
        public int SendPriority { get; set; }
        public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => throw new InvalidOperationException("send-only");

        public ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, bool completeWrites = false, CancellationToken cancellationToken = default)
        {
            BytesWritten += buffer.Length;
            return ValueTask.CompletedTask;
        }

        public void CompleteWrites() { }
        public void Reset(ulong errorCode) { }
        public void StopSending(ulong errorCode) { }
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    internal sealed class Direction
    {
        public readonly Pipe Pipe = new();
        public volatile Exception? StopSending;
    }

    private sealed class MemoryStreamEnd(long id, bool bidirectional, Direction? send, Direction? receive) : IMoqStream
    {
        public long Id => id;
        public bool IsBidirectional => bidirectional;
        public bool CanRead => receive is not null;
        public bool CanWrite => send is not null;
        public int SendPriority { get; set; }

        public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var reader = receive!.Pipe.Reader;
            var result = await reader.ReadAsync(cancellationToken);
            var data = result.Buffer;
            int n = (int)Math.Min(buffer.Length, data.Length);
            var slice = data.Slice(0, n);
            foreach (var segment in slice)
            {
                segment.Span.CopyTo(buffer.Span);
                buffer = buffer[segment.Length..];
            }
            reader.AdvanceTo(slice.End);
            return n;
        }

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, bool completeWrites = false, CancellationToken cancellationToken = default)
        {
            if (send!.StopSending is { } stop) throw stop;
            if (!buffer.IsEmpty) await send.Pipe.Writer.WriteAsync(buffer, cancellationToken);
            if (completeWrites) await send.Pipe.Writer.CompleteAsync();
        }

        public void CompleteWrites() => send?.Pipe.Writer.Complete();

        public void Reset(ulong errorCode) => send?.Pipe.Writer.Complete(new IOException($"stream reset by peer (0x{errorCode:x})"));

        public void StopSending(ulong errorCode)
        {
            if (receive is null) return;
            receive.StopSending = new IOException($"peer sent STOP_SENDING (0x{errorCode:x})");
            receive.Pipe.Reader.Complete();
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
