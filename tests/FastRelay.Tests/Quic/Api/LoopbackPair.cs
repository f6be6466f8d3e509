using System.Net;
using System.Security.Cryptography.X509Certificates;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Tls.Certificates;

namespace FastRelay.Tests.Quic.Api;

/// <summary>Our listener and our client on loopback, optionally through a <see cref="UdpCapturingProxy"/>.</summary>
internal sealed class LoopbackPair : IAsyncDisposable
{
    public static readonly Lazy<X509Certificate2> Certificate = new(() => SelfSignedCertificate.Create());

    public required QuicListener Listener { get; init; }
    public required QuicConnection Client { get; init; }
    public required QuicConnection Server { get; init; }
    public UdpCapturingProxy? Proxy { get; init; }

    public static async Task<LoopbackPair> StartAsync(bool proxy = false, Action<QuicClientConnectionOptions>? client = null,
        Action<QuicServerConnectionOptions>? server = null, bool retry = false, Action<UdpCapturingProxy>? configureProxy = null,
        Action<QuicListenerOptions>? listener = null)
    {
        var serverOptions = new QuicServerConnectionOptions { ServerCertificate = Certificate.Value, ApplicationProtocols = ["test"] };
        server?.Invoke(serverOptions);
        var listenerOptions = new QuicListenerOptions
        {
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            ApplicationProtocols = ["test"],
            ConnectionOptions = serverOptions,
            RequireAddressValidation = retry,
        };
        listener?.Invoke(listenerOptions);
        var quicListener = await QuicListener.ListenAsync(listenerOptions);
        var middle = proxy ? new UdpCapturingProxy(quicListener.LocalEndPoint) : null;
        if (middle is not null) configureProxy?.Invoke(middle);
        var clientOptions = new QuicClientConnectionOptions
        {
            RemoteEndPoint = middle?.EndPoint ?? quicListener.LocalEndPoint,
            ApplicationProtocols = ["test"],
            SkipCertificateValidation = true,
        };
        client?.Invoke(clientOptions);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var accept = quicListener.AcceptConnectionAsync(timeout.Token).AsTask();
        var connection = await QuicConnection.ConnectAsync(clientOptions, timeout.Token);
        var serverConnection = await accept;
        return new LoopbackPair { Listener = quicListener, Client = connection, Server = serverConnection, Proxy = middle };
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
        await Listener.DisposeAsync();
        Proxy?.Dispose();
    }
}
