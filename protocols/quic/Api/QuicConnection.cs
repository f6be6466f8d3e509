using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace FastRelay.Protocols.Quic.Api;

/// <summary>A QUIC connection (client or server side), shaped like System.Net.Quic.QuicConnection.</summary>
public sealed partial class QuicConnection : IAsyncDisposable
{
    public static ValueTask<QuicConnection> ConnectAsync(QuicClientConnectionOptions options, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException("QUIC connection: being built in this session");

    public IPEndPoint LocalEndPoint => throw new NotImplementedException();
    public IPEndPoint RemoteEndPoint => throw new NotImplementedException();
    public string NegotiatedApplicationProtocol => throw new NotImplementedException();
    public X509Certificate2? RemoteCertificate => throw new NotImplementedException();
    /// <summary>True when both ends advertised 0xBAAD, so 1-RTT packets travel without AEAD.</summary>
    public bool Is1RttEncryptionDisabled => throw new NotImplementedException();

    public ValueTask<QuicStream> OpenOutboundStreamAsync(QuicStreamType type, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    public ValueTask<QuicStream> AcceptInboundStreamAsync(CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    /// <summary>Closes with CONNECTION_CLOSE (application variant, 0x1d) and the given code.</summary>
    public ValueTask CloseAsync(long errorCode, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <summary>Starts a key update (RFC 9001 §6) at the next packet.</summary>
    public void UpdateKeys() => throw new NotImplementedException();

    public ValueTask DisposeAsync() => throw new NotImplementedException();
}
