using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace FastRelay.Cli.Moq.Viewer;

/// <summary>
/// `moq relay --web PORT`: a small HTTP/1.1 server (GET only, one request per connection) for browsers on TCP:
/// <list type="bullet">
/// <item>/ , /viewer.js, /moq.js: the viewer (<see cref="ViewerSite"/>);</item>
/// <item>/certificate.sha256: the hex SHA-256 of the relay's certificate, which @moq/net fetches for http:// relay URLs;</item>
/// <item>/config.json: where the relay's WebTransport endpoint is (UDP port, path) and the hash to pin, if pinnable.</item>
/// </list>
/// Plain HTTP is enough: http://localhost and http://127.0.0.1 are secure contexts, so WebTransport is available there,
/// and the relay's self-signed certificate is accepted through serverCertificateHashes.
/// </summary>
public sealed class ViewerHttpServer : IAsyncDisposable
{
    private const int MaxRequestHeadBytes = 16 * 1024;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    private readonly TcpListener _listener;
    private readonly ViewerSite _site;
    private readonly byte[] _certificateHash;
    private readonly byte[] _config;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task _acceptLoop = Task.CompletedTask;

    private ViewerHttpServer(IPEndPoint endPoint, ViewerSite site, X509Certificate2 certificate, int relayPort, string webTransportPath, ILogger logger)
    {
        _listener = new TcpListener(endPoint);
        _site = site;
        _logger = logger;
        string hash = Convert.ToHexString(SHA256.HashData(certificate.RawData)).ToLowerInvariant();
        _certificateHash = Encoding.ASCII.GetBytes(hash);
        _config = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object?>
        {
            ["port"] = relayPort,
            ["path"] = webTransportPath,
            ["certificateSha256"] = IsPinnable(certificate) ? hash : null,
        });
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>Listens on <paramref name="endPoint"/> (port 0: any free one) and serves until disposed.</summary>
    public static ViewerHttpServer Start(IPEndPoint endPoint, ViewerSite site, X509Certificate2 certificate, int relayPort, string webTransportPath, ILogger logger)
    {
        var server = new ViewerHttpServer(endPoint, site, certificate, relayPort, webTransportPath, logger);
        server._listener.Start();
        server._acceptLoop = server.AcceptLoopAsync();
        return server;
    }

    /// <summary>
    /// Whether browsers accept the certificate by hash (WebTransport serverCertificateHashes): ECDSA P-256 (or another
    /// ECDSA curve Chromium takes; P-256 is what we make) and a validity period of at most 14 days. Otherwise the browser
    /// has to trust it the ordinary way (a CA), and the viewer pins nothing.
    /// </summary>
    public static bool IsPinnable(X509Certificate2 certificate)
    {
        using var ecdsa = certificate.GetECDsaPublicKey();
        return ecdsa is not null && certificate.NotAfter - certificate.NotBefore <= TimeSpan.FromDays(14);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(RequestTimeout);
        try
        {
            var stream = client.GetStream();
            var (method, target) = await ReadRequestHeadAsync(stream, timeout.Token).ConfigureAwait(false);
            if (method is null) return;
            var path = target.Split('?', 2)[0];
            if (method is not ("GET" or "HEAD"))
            {
                await RespondAsync(stream, 405, "text/plain", "GET only\n"u8.ToArray(), method, timeout.Token).ConfigureAwait(false);
                return;
            }
            var (status, type, body) = path switch
            {
                "/certificate.sha256" => (200, "text/plain", _certificateHash),
                "/config.json" => (200, "application/json", _config),
                _ when _site.Find(path) is { } file => (200, file.ContentType, file.Body),
                _ => (404, "text/plain", "not found\n"u8.ToArray()),
            };
            await RespondAsync(stream, status, type, body, method, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or FormatException)
        {
            _logger.LogDebug("viewer: request from {Remote} failed: {Error}", client.Client.RemoteEndPoint, e.Message);
        }
    }

    /// <summary>The request line of a request head (bounded; the headers are read and ignored: no body is accepted).</summary>
    private static async Task<(string? Method, string Target)> ReadRequestHeadAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var head = new List<byte>(512);
        var buffer = new byte[1];
        while (!(head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            if (await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false) == 0) return (null, "");
            head.Add(buffer[0]);
            if (head.Count > MaxRequestHeadBytes) throw new FormatException("request head too large");
        }
        var requestLine = Encoding.ASCII.GetString(head.ToArray()).Split("\r\n", 2)[0].Split(' ');
        if (requestLine.Length < 3) throw new FormatException("malformed request line");
        return (requestLine[0], requestLine[1]);
    }

    private static async Task RespondAsync(NetworkStream stream, int status, string contentType, byte[] body, string method, CancellationToken cancellationToken)
    {
        var reason = status switch { 200 => "OK", 404 => "Not Found", _ => "Method Not Allowed" };
        // Access-Control-Allow-Origin: @moq/net fetches /certificate.sha256 from pages of any origin (its http:// mode).
        var head = $"HTTP/1.1 {status} {reason}\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\n" +
                   "Cache-Control: no-store\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head), cancellationToken).ConfigureAwait(false);
        if (method != "HEAD") await stream.WriteAsync(body, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _listener.Stop();
        try { await _acceptLoop.ConfigureAwait(false); } catch { /* stopping */ }
    }
}
