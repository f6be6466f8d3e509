using System.Net;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Http3.WebTransport;
using FastRelay.Tests.Quic.Api;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace FastRelay.Tests.Quic.WebTransport;

/// <summary>Our WebTransport server on loopback and a way to connect our client to it.</summary>
internal sealed class WebTransportLoopback : IAsyncDisposable
{
    private readonly ILoggerFactory _loggers;

    private WebTransportLoopback(WebTransportServer server, ILoggerFactory loggers)
    {
        Server = server;
        _loggers = loggers;
    }

    public WebTransportServer Server { get; }
    public int Port => Server.LocalEndPoint.Port;

    public static async Task<WebTransportLoopback> StartAsync(ITestOutputHelper output, Action<WebTransportServer> map, WebTransportServerOptions? options = null)
    {
        var loggers = LoggerFactory.Create(b => b.AddProvider(new TestOutputLoggerProvider(output)).SetMinimumLevel(LogLevel.Debug));
        var server = new WebTransportServer(options, loggers.CreateLogger("wt-server"));
        map(server);
        await server.StartAsync(new QuicListenerOptions
        {
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            ConnectionOptions = new QuicServerConnectionOptions { ServerCertificate = LoopbackPair.Certificate.Value },
        });
        return new WebTransportLoopback(server, loggers);
    }

    public Task<WebTransportSession> ConnectAsync(string path, IReadOnlyList<string>? protocols = null, bool requireProtocol = false,
        CancellationToken cancellationToken = default) =>
        WebTransportClient.ConnectAsync(new Uri($"https://127.0.0.1:{Port}{path}"), new WebTransportClientOptions
        {
            Protocols = protocols ?? [],
            RequireProtocol = requireProtocol,
            SkipCertificateValidation = true,
            Origin = "https://fastrelay.test",
            LoggerFactory = _loggers,
        }, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        _loggers.Dispose();
    }
}
