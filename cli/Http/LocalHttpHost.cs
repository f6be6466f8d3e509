using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;

namespace FastRelay.Cli.Http;

/// <summary>
/// The one small HTTP server of the CLI (<see cref="HttpListener"/>): serves one path prefix on an address given as an
/// option ("PORT", "HOST:PORT", "[IPv6]:PORT"). `--metrics` (Prometheus text) and the generic relay's `--control` API
/// (JSON) each run one; a handler gets every request under its prefix, one at a time (both are operator endpoints:
/// a scrape or a control call every few seconds, so requests are not served in parallel and a slow client delays the
/// next, never the relay's data path).
/// </summary>
public sealed class LocalHttpHost : IAsyncDisposable
{
    private readonly HttpListener _http = new();
    private readonly Func<HttpListenerContext, Task> _handle;
    private readonly ILogger _log;
    private readonly Task _serving;

    private LocalHttpHost(string prefix, string url, Func<HttpListenerContext, Task> handle, ILogger log)
    {
        _handle = handle;
        _log = log;
        Url = url;
        _http.Prefixes.Add(prefix);
        try
        {
            _http.Start();
        }
        catch (HttpListenerException e)
        {
            _http.Close();
            throw new UserFacingException($"cannot serve {url}: {e.Message} (address taken or not local?)", e);
        }
        _serving = Task.Run(ServeAsync);
    }

    /// <summary>The URL of the served prefix, without a trailing slash (http://127.0.0.1:9464/metrics).</summary>
    public string Url { get; }

    /// <summary>Serves <paramref name="path"/> ("/metrics", "/v1") on <paramref name="address"/>; host 0.0.0.0 / :: / *
    /// means every address. <paramref name="option"/> names the option in errors.</summary>
    public static LocalHttpHost Start(string option, string address, string path, Func<HttpListenerContext, Task> handle, ILogger log)
    {
        var (host, port) = ParseAddress(option, address);
        var bindHost = host is "0.0.0.0" or "::" or "[::]" or "*" ? "+" : host;
        var url = $"http://{(bindHost == "+" ? "127.0.0.1" : host)}:{port}{path}";
        return new LocalHttpHost($"http://{bindHost}:{port}{path}/", url, handle, log);
    }

    /// <summary>"PORT" (loopback), "HOST:PORT" or "[IPv6]:PORT".</summary>
    public static (string Host, int Port) ParseAddress(string option, string address)
    {
        var colon = address.LastIndexOf(':');
        var host = colon < 0 ? "127.0.0.1" : address[..colon];
        var portText = colon < 0 ? address : address[(colon + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new UserFacingException($"{option} {address}: expected PORT or HOST:PORT with a port from 1 to 65535");
        if (host.Length == 0)
            throw new UserFacingException($"{option} {address}: the host is empty");
        return (host, port);
    }

    private async Task ServeAsync()
    {
        while (_http.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _http.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return; // stopped
            }
            try
            {
                await _handle(context).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // A client that went away mid-response, or a handler that failed: this request fails, the relay does not.
                _log.LogWarning("{Url}: request failed: {Error}", Url, e.Message);
                try { context.Response.Abort(); } catch (ObjectDisposedException) { }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Close alone: Stop() and then Close() remove the prefixes twice, and the managed HttpListener's second removal
        // binds the port again to look it up (a CI run failed in Dispose with "Address already in use" when another test
        // had taken the port meanwhile). Shutting down must not throw either way.
        try { _http.Close(); }
        catch (HttpListenerException) { }
        await _serving.ConfigureAwait(false);
    }
}
