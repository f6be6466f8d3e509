using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace FastRelay.Tests.Quic.WebTransport.Browser;

/// <summary>One page run: an ES module whose default export gets <c>params</c> and returns a JSON-able result.</summary>
public sealed record ChromiumPage
{
    /// <summary>Module source; must <c>export default async function (params) { ... }</c>. It may
    /// <c>import { Moq } from "/moq.js"</c> (the bundled @moq/net) and call <c>log(...)</c> (a global).</summary>
    public required string Module { get; init; }
    /// <summary>Serialized to JSON and passed to the module's default export.</summary>
    public object? Params { get; init; }
    /// <summary>Extra command-line switches (e.g. <c>--origin-to-force-quic-on=127.0.0.1:PORT</c>).</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Told the browser's process id and profile directory once it started (the harness's own tests check
    /// that both are gone afterwards).</summary>
    public Action<int, string>? OnStarted { get; init; }
    /// <summary>A network namespace (a name under /run/netns) to run the browser and its page server in, e.g. a lab host
    /// whose traffic to a relay crosses a veth the relay's TC programs sit on; null: the test's own namespace.</summary>
    public string? NetworkNamespace { get; init; }
}

/// <summary>
/// Runs headless Chromium (Debian's <c>chromium</c>) on a page and returns the JSON its module returned. The page comes
/// from a loopback HTTP/1.1 server started per run (http://127.0.0.1 is a secure context, so WebTransport is
/// available); the module reports its result (or error) by POSTing it back, so no DevTools protocol is needed. The
/// browser process tree and its temporary profile are removed whatever happens (timeout, failure, exception).
/// </summary>
public static class ChromiumHarness
{
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>tests/browser in the source tree (node_modules installed there by scripts/setup.sh with npm ci).</summary>
    public static string BrowserTestsDirectory { get; } = FindBrowserTestsDirectory();

    /// <summary>Null when Chromium can run pages; otherwise the missing capability, named.</summary>
    public static string? MissingChromium =>
        File.Exists(ChromiumPath) ? null : $"Chromium ({ChromiumPath}, Debian package 'chromium'; scripts/setup.sh installs it)";

    /// <summary>Null when the @moq/net bundle can be served; otherwise what is missing.</summary>
    public static string? MissingMoqBundle =>
        MissingChromium ?? (File.Exists(Path.Combine(BrowserTestsDirectory, "node_modules", "@moq", "net", "package.json"))
            ? null : $"@moq/net in {BrowserTestsDirectory}/node_modules (scripts/setup.sh runs npm ci there)");

    public static async Task<JsonElement> RunAsync(ChromiumPage page, ITestOutputHelper? output = null, CancellationToken cancellationToken = default)
    {
        if (MissingChromium is { } missing) throw new InvalidOperationException($"missing: {missing}");
        using var http = new PageServer(page, output);
        string profile = Directory.CreateTempSubdirectory("fastrelay-chromium-").FullName;
        using var process = new Process();
        // In a namespace: nsenter enters only its network namespace and then executes Chromium itself (same process id).
        process.StartInfo = new ProcessStartInfo(page.NetworkNamespace is null ? ChromiumPath : "nsenter")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        if (page.NetworkNamespace is { } netns)
            foreach (var argument in (string[])[$"--net=/run/netns/{netns}", "--", ChromiumPath])
                process.StartInfo.ArgumentList.Add(argument);
        foreach (var argument in (string[])[
            "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--enable-quic", $"--user-data-dir={profile}",
            .. page.ExtraArguments, $"http://127.0.0.1:{http.Port}/"])
            process.StartInfo.ArgumentList.Add(argument);
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            // A container has no D-Bus; Chromium complains about it on every start, which only buries what matters.
            if (e.Data is null || e.Data.Contains("dbus/", StringComparison.Ordinal) || e.Data.Contains("unexpected operator", StringComparison.Ordinal)) return;
            lock (stderr) if (stderr.Length < 256 * 1024) stderr.AppendLine(e.Data);
        };
        process.OutputDataReceived += (_, _) => { };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(page.Timeout);
        try
        {
            process.Start();
            page.OnStarted?.Invoke(process.Id, profile);
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            var exited = process.WaitForExitAsync(timeout.Token);
            var finished = await Task.WhenAny(http.Result, exited).ConfigureAwait(false);
            if (finished != http.Result)
            {
                if (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                    throw new TimeoutException($"the page reported nothing within {page.Timeout.TotalSeconds:0} s; browser log:\n{Tail(stderr)}");
                await exited.ConfigureAwait(false);
                throw new InvalidOperationException($"chromium exited ({process.ExitCode}) before the page reported; browser log:\n{Tail(stderr)}");
            }
            var report = await http.Result.ConfigureAwait(false);
            if (!report.GetProperty("ok").GetBoolean())
                throw new PageFailedException(report.GetProperty("error").GetString() ?? "(no message)", Tail(stderr));
            return report.GetProperty("result").Clone();
        }
        finally
        {
            try
            {
                if (!process.HasExited) process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
            {
            }
            output?.WriteLine($"chromium log (tail):\n{Tail(stderr, 4000)}");
            DeleteQuietly(profile);
        }
    }

    private static string Tail(StringBuilder text, int max = 8000)
    {
        lock (text) return text.Length <= max ? text.ToString() : text.ToString(text.Length - max, max);
    }

    private static void DeleteQuietly(string directory)
    {
        for (int attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
                return;
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
            catch (IOException)
            {
                Thread.Sleep(100); // a dying renderer may still write its profile
            }
        }
    }

    private static string FindBrowserTestsDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "browser");
            if (File.Exists(Path.Combine(candidate, "package.json")))
                return candidate;
        }
        return Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../browser"));
    }

    /// <summary>The @moq/net bundle (esbuild of tests/browser/moq-entry.js), built once per test run if missing or stale.</summary>
    internal static byte[] MoqBundle() => MoqBundleLazy.Value;

    private static readonly Lazy<byte[]> MoqBundleLazy = new(() =>
    {
        string dir = BrowserTestsDirectory;
        string bundle = Path.Combine(dir, "dist", "moq.js");
        string lockFile = Path.Combine(dir, "package-lock.json");
        if (!File.Exists(bundle) || File.GetLastWriteTimeUtc(bundle) < File.GetLastWriteTimeUtc(lockFile))
        {
            var esbuild = Path.Combine(dir, "node_modules", ".bin", "esbuild");
            var start = new ProcessStartInfo(esbuild) { WorkingDirectory = dir, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in (string[])["moq-entry.js", "--bundle", "--format=esm", "--platform=browser", "--outfile=dist/moq.js", "--log-level=error"])
                start.ArgumentList.Add(a);
            using var p = Process.Start(start)!;
            string error = p.StandardError.ReadToEnd();
            if (!p.WaitForExit(60_000) || p.ExitCode != 0)
                throw new InvalidOperationException($"esbuild failed: {error}");
        }
        return File.ReadAllBytes(bundle);
    });

    /// <summary>Loopback HTTP/1.1: GET / (page), /harness.js, /test.js, /moq.js; POST /log and /result.</summary>
    private sealed class PageServer : IDisposable
    {
        private readonly TcpListener _listener;
        private readonly ChromiumPage _page;
        private readonly ITestOutputHelper? _output;
        private readonly TaskCompletionSource<JsonElement> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CancellationTokenSource _stop = new();

        public PageServer(ChromiumPage page, ITestOutputHelper? output)
        {
            _page = page;
            _output = output;
            // Bound in the browser's namespace (its loopback): a socket stays in the namespace it was created in.
            _listener = page.NetworkNamespace is { } netns
                ? FastRelay.Cli.Lab.NetnsThread.Run(netns, () => StartListener())
                : StartListener();
            _ = AcceptAsync();
        }

        private static TcpListener StartListener()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return listener;
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
        public Task<JsonElement> Result => _result.Task;

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
                    _ = ServeAsync(client);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
            }
        }

        private async Task ServeAsync(TcpClient client)
        {
            using var _ = client;
            try
            {
                var stream = client.GetStream();
                while (true)
                {
                    var (method, path, body) = await ReadRequestAsync(stream).ConfigureAwait(false);
                    if (method is null) return;
                    switch (method, path)
                    {
                        case ("GET", "/"):
                            await RespondAsync(stream, 200, "text/html", Encoding.UTF8.GetBytes(
                                "<!doctype html><meta charset=utf-8><title>fastrelay</title><script type=module src=/harness.js></script>")).ConfigureAwait(false);
                            break;
                        case ("GET", "/harness.js"):
                            await RespondAsync(stream, 200, "text/javascript", Encoding.UTF8.GetBytes(HarnessModule(_page.Params))).ConfigureAwait(false);
                            break;
                        case ("GET", "/test.js"):
                            await RespondAsync(stream, 200, "text/javascript", Encoding.UTF8.GetBytes(_page.Module)).ConfigureAwait(false);
                            break;
                        case ("GET", "/moq.js"):
                            await RespondAsync(stream, 200, "text/javascript", MoqBundle()).ConfigureAwait(false);
                            break;
                        case ("POST", "/log"):
                            _output?.WriteLine("page: " + Encoding.UTF8.GetString(body));
                            await RespondAsync(stream, 204, "text/plain", []).ConfigureAwait(false);
                            break;
                        case ("POST", "/result"):
                            try
                            {
                                _result.TrySetResult(JsonDocument.Parse(body).RootElement.Clone());
                            }
                            catch (JsonException e)
                            {
                                _result.TrySetException(e);
                            }
                            await RespondAsync(stream, 204, "text/plain", []).ConfigureAwait(false);
                            break;
                        default:
                            await RespondAsync(stream, 404, "text/plain", []).ConfigureAwait(false);
                            break;
                    }
                }
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }

        private static string HarnessModule(object? parameters) => $$"""
            const post = (path, body) => fetch(path, { method: "POST", body });
            globalThis.log = (...parts) => { post("/log", parts.map(p => typeof p === "string" ? p : JSON.stringify(p)).join(" ")); };
            addEventListener("unhandledrejection", e => log("unhandled rejection: " + (e.reason && e.reason.stack || e.reason)));
            const params = {{JsonSerializer.Serialize(parameters)}};
            try {
              const module = await import("/test.js");
              const result = await module.default(params);
              await post("/result", JSON.stringify({ ok: true, result: result ?? null }));
            } catch (e) {
              await post("/result", JSON.stringify({ ok: false, error: String(e && e.stack || e) }));
            }
            """;

        /// <summary>Minimal HTTP/1.1 request reader: request line, headers, Content-Length body (capped at 1 MB).</summary>
        private static async Task<(string? Method, string Path, byte[] Body)> ReadRequestAsync(NetworkStream stream)
        {
            var head = new List<byte>();
            var one = new byte[1];
            while (!(head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
            {
                if (await stream.ReadAsync(one).ConfigureAwait(false) == 0) return (null, "", []);
                head.Add(one[0]);
                if (head.Count > 16 * 1024) throw new IOException("request head too large");
            }
            var lines = Encoding.ASCII.GetString(head.ToArray()).Split("\r\n");
            var requestLine = lines[0].Split(' ');
            int length = 0;
            foreach (var line in lines.Skip(1))
                if (line.StartsWith("content-length:", StringComparison.OrdinalIgnoreCase))
                    length = int.Parse(line["content-length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            if (length > 1 << 20) throw new IOException("request body too large");
            var body = new byte[length];
            await stream.ReadExactlyAsync(body).ConfigureAwait(false);
            return (requestLine[0], requestLine.Length > 1 ? requestLine[1] : "/", body);
        }

        private static async Task RespondAsync(NetworkStream stream, int status, string contentType, byte[] body)
        {
            var head = $"HTTP/1.1 {status} X\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\nCache-Control: no-store\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head)).ConfigureAwait(false);
            await stream.WriteAsync(body).ConfigureAwait(false);
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            _result.TrySetCanceled();
        }
    }
}

/// <summary>The page's module threw: its message and stack, plus the browser's log.</summary>
public sealed class PageFailedException(string pageError, string browserLog) : Exception($"page failed: {pageError}\nbrowser log:\n{browserLog}")
{
    public string PageError { get; } = pageError;
}
