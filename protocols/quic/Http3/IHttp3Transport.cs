using FastRelay.Protocols.Quic.Api;

namespace FastRelay.Protocols.Quic.Http3;

/// <summary>The slice of <see cref="QuicStream"/> HTTP/3 uses. <see cref="QuicStream"/> is sealed, so the HTTP/3 code
/// talks to this interface: <see cref="QuicHttp3Connection"/> adapts the real stream, tests plug in memory pipes.</summary>
public interface IHttp3Stream
{
    long Id { get; }
    QuicStreamType Type { get; }
    /// <summary>Returns 0 at the peer's FIN; throws <see cref="QuicException"/> when the peer aborted the stream.</summary>
    ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);
    ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, bool completeWrites, CancellationToken cancellationToken = default);
    void CompleteWrites();
    void Abort(QuicAbortDirection direction, long errorCode);
}

/// <summary>The slice of <see cref="QuicConnection"/> HTTP/3 uses (see <see cref="IHttp3Stream"/>).</summary>
public interface IHttp3Connection : IAsyncDisposable
{
    ValueTask<IHttp3Stream> OpenOutboundStreamAsync(QuicStreamType type, CancellationToken cancellationToken = default);
    /// <summary>Throws <see cref="QuicException"/> once the connection is closed.</summary>
    ValueTask<IHttp3Stream> AcceptInboundStreamAsync(CancellationToken cancellationToken = default);
    ValueTask CloseAsync(long errorCode, CancellationToken cancellationToken = default);
}

/// <summary>Adapts a real <see cref="QuicConnection"/>.</summary>
public sealed class QuicHttp3Connection(QuicConnection connection) : IHttp3Connection
{
    public QuicConnection Connection { get; } = connection;

    public async ValueTask<IHttp3Stream> OpenOutboundStreamAsync(QuicStreamType type, CancellationToken cancellationToken = default) =>
        new Adapter(await Connection.OpenOutboundStreamAsync(type, cancellationToken).ConfigureAwait(false));

    public async ValueTask<IHttp3Stream> AcceptInboundStreamAsync(CancellationToken cancellationToken = default) =>
        new Adapter(await Connection.AcceptInboundStreamAsync(cancellationToken).ConfigureAwait(false));

    public ValueTask CloseAsync(long errorCode, CancellationToken cancellationToken = default) => Connection.CloseAsync(errorCode, cancellationToken);

    /// <summary>The HTTP/3 view of one stream of this connection (extensions that read a stream's first bytes
    /// themselves hand it on this way).</summary>
    public IHttp3Stream Wrap(QuicStream stream) => new Adapter(stream);

    public ValueTask DisposeAsync() => Connection.DisposeAsync();

    private sealed class Adapter(QuicStream stream) : IHttp3Stream
    {
        public long Id => stream.Id;
        public QuicStreamType Type => stream.Type;
        public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => stream.ReadAsync(buffer, cancellationToken);
        public ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, bool completeWrites, CancellationToken cancellationToken = default) =>
            stream.WriteAsync(buffer, completeWrites, cancellationToken);
        public void CompleteWrites() => stream.CompleteWrites();
        public void Abort(QuicAbortDirection direction, long errorCode) => stream.Abort(direction, errorCode);
    }
}
