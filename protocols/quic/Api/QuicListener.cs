using System.Net;

namespace FastRelay.Protocols.Quic.Api;

/// <summary>Accepts QUIC connections on one UDP socket, shaped like System.Net.Quic.QuicListener.</summary>
public sealed partial class QuicListener : IAsyncDisposable
{
    public static ValueTask<QuicListener> ListenAsync(QuicListenerOptions options, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException("QUIC listener: being built in this session");

    public IPEndPoint LocalEndPoint => throw new NotImplementedException();

    public ValueTask<QuicConnection> AcceptConnectionAsync(CancellationToken cancellationToken = default) => throw new NotImplementedException();

    public ValueTask DisposeAsync() => throw new NotImplementedException();
}
