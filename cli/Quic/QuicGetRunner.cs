using FastRelay.Protocols.Quic.Tls.Resumption;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Http3;
using Microsoft.Extensions.Logging;

namespace FastRelay.Cli.Quic;

public sealed class QuicGetOptions
{
    public required IReadOnlyList<string> Urls { get; init; }
    public string? Output { get; init; }
    public bool Insecure { get; init; }
    public string? TrustCertificatePath { get; init; }
    public bool Disable1RttEncryption { get; init; }
    public bool KeyUpdate { get; init; }
    public int Concurrency { get; init; } = 8;
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public bool Verbose { get; init; }
    public LogFormat LogFormat { get; init; }
    /// <summary>Directory for one qlog file per connection (created if missing); null: no qlog.</summary>
    public string? QlogDirectory { get; init; }
    /// <summary>Session ticket file: read to resume, rewritten with the new ticket.</summary>
    public string? SessionFile { get; init; }
    /// <summary>Send 0-RTT when resuming with a ticket that allows it.</summary>
    public bool EarlyData { get; init; } = true;
    /// <summary>Path MTU discovery maximum (0: off).</summary>
    public int MaxPathMtuProbeSize { get; init; }
    public FastRelay.Protocols.Quic.Recovery.CongestionControlAlgorithm CongestionControl { get; init; }
    /// <summary>QUIC versions to offer, most preferred first (the first flight is v1 when listed).</summary>
    public List<uint> QuicVersions { get; init; } = [Protocols.Quic.Wire.QuicVersion.V1];
}

/// <summary>`fastrelay quic get`: one connection per authority, requests concurrent up to a small bound, each body
/// to its file (or discarded), one line per URL with status, bytes, time and goodput. Exit 1 if anything failed.</summary>
public static class QuicGetRunner
{
    public static async Task<int> RunAsync(QuicGetOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        Startup.StartupTrace.Mark("quic get: running");
        var targets = options.Urls.Select(Parse).ToList();
        var destinations = Destinations(options, targets);
        X509Certificate2Collection? trusted = null;
        if (options.TrustCertificatePath is { } trustPath)
        {
            if (!File.Exists(trustPath))
                throw new UserFacingException($"--trust-cert {trustPath} does not exist");
            trusted = [];
            trusted.ImportFromPemFile(trustPath);
        }
        QuicLogging.PrepareQlogDirectory(options.QlogDirectory);
        using var logs = CliLogging.Create(options.Verbose, options.LogFormat, Microsoft.Extensions.Logging.LogLevel.Warning);
        var logger = logs.CreateLogger("quic-get");
        int failures = 0;
        var total = Stopwatch.StartNew();
        long totalBytes = 0;
        SessionTicketCache? tickets = null;
        if (options.SessionFile is { } sessionFile)
        {
            tickets = new SessionTicketCache();
            tickets.Load(sessionFile);
        }
        foreach (var group in targets.Select((t, i) => (Target: t, Index: i)).GroupBy(t => t.Target.Authority))
        {
            var first = group.First().Target;
            var connectionOptions = new QuicClientConnectionOptions
            {
                RemoteEndPoint = first.EndPoint,
                TargetHost = first.Uri.IdnHost,
                ApplicationProtocols = [Http3Client.Alpn],
                SkipCertificateValidation = options.Insecure,
                TrustedCertificates = trusted,
                Disable1RttEncryption = options.Disable1RttEncryption,
                QlogDirectory = options.QlogDirectory,
                HandshakeTimeout = options.HandshakeTimeout,
                LoggerFactory = logs,
                SessionTickets = tickets,
                EnableEarlyData = options.EarlyData,
                MaxPathMtuProbeSize = options.MaxPathMtuProbeSize,
                CongestionControl = options.CongestionControl,
                QuicVersions = options.QuicVersions,
            };
            Http3Client client;
            var handshakeWatch = Stopwatch.StartNew();
            TimeSpan? handshakeTime = null;
            try
            {
                Startup.StartupTrace.Mark("quic get: connecting");
                Startup.StartupTrace.Flush();
                client = await Http3Client.ConnectAsync(connectionOptions, logger, cancellationToken);
                if (client.QuicConnection is { } started)
                    _ = started.WaitForHandshakeAsync(cancellationToken).ContinueWith(t => { if (t.IsCompletedSuccessfully) handshakeTime = handshakeWatch.Elapsed; },
                        TaskScheduler.Default);
            }
            catch (Exception e) when (e is QuicException or Http3Exception or NotImplementedException or System.Net.Sockets.SocketException)
            {
                throw new UserFacingException($"cannot connect to {group.Key}: {e.Message}", e);
            }
            await using (client)
            {
                int keyUpdated = options.KeyUpdate ? 0 : 1;
                void OnFirstBytes()
                {
                    if (Interlocked.Exchange(ref keyUpdated, 1) == 0)
                        client.QuicConnection?.UpdateKeys();
                }
                using var gate = new SemaphoreSlim(Math.Max(1, options.Concurrency));
                var lines = new object();
                await Task.WhenAll(group.Select(async item =>
                {
                    await gate.WaitAsync(cancellationToken);
                    try
                    {
                        var watch = Stopwatch.StartNew();
                        string? path = destinations[item.Index];
                        await using var sink = path is null ? Stream.Null : new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
                        try
                        {
                            var (response, final, refusal) = await GetFollowingRedirectsAsync(client, item.Target.Uri, sink, OnFirstBytes, cancellationToken);
                            double seconds = Math.Max(watch.Elapsed.TotalSeconds, 1e-6);
                            Interlocked.Add(ref totalBytes, response.BodyLength);
                            if (response.StatusCode != 200)
                                Interlocked.Increment(ref failures);
                            string redirected = final == item.Target.Uri ? "" : $" (redirected to {final})";
                            string notFollowed = refusal is null ? "" : $" ({refusal})";
                            lock (lines)
                                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                                    $"{item.Target.Uri}: status {response.StatusCode}{redirected}{notFollowed}, {response.BodyLength} bytes, {seconds * 1000:F1} ms, {response.BodyLength / seconds / 1e6:F2} MB/s{(path is null ? "" : " -> " + path)}"));
                        }
                        catch (Exception e) when (e is QuicException or Http3Exception or IOException)
                        {
                            Interlocked.Increment(ref failures);
                            lock (lines)
                                output.WriteLine($"{item.Target.Uri}: FAILED: {e.Message}");
                        }
                    }
                    finally
                    {
                        gate.Release();
                    }
                }));
                if (client.QuicConnection is { } quic)
                {
                    await quic.WaitForHandshakeAsync(cancellationToken);
                    string handshake = handshakeTime is { } h ? string.Create(CultureInfo.InvariantCulture, $"{h.TotalMilliseconds:F1} ms") : "?";
                    output.WriteLine($"connection {group.Key}: QUIC {Protocols.Quic.Wire.QuicVersion.Name(quic.NegotiatedVersion)}, ALPN {quic.NegotiatedApplicationProtocol}, 1-RTT {(quic.Is1RttEncryptionDisabled ? "unencrypted (disable_1rtt_encryption)" : "encrypted")}, key generation {quic.KeyUpdateGeneration}, handshake {handshake}, {(quic.IsResumed ? "resumed" : "full handshake")}, 0-RTT {quic.EarlyDataState}, path MTU {quic.PathMtu}, ECN {quic.EcnState}");
                    if (tickets is not null)
                    {
                        // The server's ticket follows its handshake; give it a moment if the downloads were quicker.
                        for (int i = 0; i < 50 && tickets.Count == 0; i++) await Task.Delay(10, cancellationToken);
                    }
                }
            }
        }
        if (tickets is not null && options.SessionFile is { } file) tickets.Save(file);
        double elapsed = Math.Max(total.Elapsed.TotalSeconds, 1e-6);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"total: {targets.Count} URLs, {totalBytes} bytes in {elapsed:F3} s, goodput {totalBytes / elapsed / 1e6:F2} MB/s"));
        if (failures > 0)
            throw new UserFacingException($"{failures} of {targets.Count} downloads failed");
        return 0;
    }

    /// <summary>Redirects followed per URL before giving up (browsers allow about 20; a file fetcher needs few).</summary>
    public const int MaxRedirects = 5;

    /// <summary>
    /// GET, following 3xx redirects that stay on the same origin (same scheme and authority: the same connection) up to
    /// <see cref="MaxRedirects"/>. The destination is truncated before each attempt so it ends up holding only the final
    /// body. Returns the last response, the URL it answered, and why a redirect was not followed (null if none was refused).
    /// </summary>
    public static async Task<(Http3Response Response, Uri Final, string? Refusal)> GetFollowingRedirectsAsync(Http3Client client, Uri uri,
        Stream destination, Action? onFirstBodyBytes, CancellationToken cancellationToken)
    {
        for (int redirects = 0; ; redirects++)
        {
            if (destination.CanSeek)
            {
                destination.SetLength(0);
                destination.Position = 0;
            }
            var response = await client.GetAsync(uri.Authority, uri.PathAndQuery, destination, onFirstBodyBytes, cancellationToken);
            var next = SameOriginRedirect(uri, response, out string? refusal);
            if (next is null)
                return (response, uri, refusal);
            if (redirects == MaxRedirects)
                return (response, uri, $"redirect to {next} not followed: more than {MaxRedirects} redirects");
            uri = next;
        }
    }

    /// <summary>
    /// Where a redirect (301, 302, 303, 307, 308) leads when it may be followed on the same connection; null for any other
    /// status, and for a redirect without a usable Location or to another origin (then <paramref name="refusal"/> says so).
    /// </summary>
    public static Uri? SameOriginRedirect(Uri requested, Http3Response response, out string? refusal)
    {
        refusal = null;
        if (response.StatusCode is not (301 or 302 or 303 or 307 or 308))
            return null;
        string? location = response.Headers.FirstOrDefault(h => h.Name == "location").Value;
        if (string.IsNullOrEmpty(location) || !Uri.TryCreate(requested, location, out var target))
        {
            refusal = $"redirect not followed: no usable location ({location ?? "none"})";
            return null;
        }
        if (target.Scheme != requested.Scheme || target.Authority != requested.Authority)
        {
            refusal = $"redirect to {target} not followed: another origin";
            return null;
        }
        return target;
    }

    private sealed record Target(Uri Uri, IPEndPoint EndPoint, string Authority);

    private static Target Parse(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme != "https")
            throw new UserFacingException($"{text} is not an https://HOST:PORT/PATH URL");
        IPAddress address;
        if (uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6)
            address = IPAddress.Parse(uri.IdnHost);
        else
        {
            var addresses = Dns.GetHostAddresses(uri.IdnHost);
            address = addresses.FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
                ?? throw new UserFacingException($"cannot resolve {uri.Host}");
        }
        return new Target(uri, new IPEndPoint(address, uri.Port), uri.Authority);
    }

    private static string?[] Destinations(QuicGetOptions options, List<Target> targets)
    {
        var result = new string?[targets.Count];
        if (options.Output is not { } output)
            return result;
        if (targets.Count == 1 && !Directory.Exists(output))
        {
            result[0] = output;
            return result;
        }
        Directory.CreateDirectory(output);
        var used = new HashSet<string>();
        for (int i = 0; i < targets.Count; i++)
        {
            string name = Path.GetFileName(Uri.UnescapeDataString(targets[i].Uri.AbsolutePath));
            if (string.IsNullOrEmpty(name) || name is "." or "..")
                name = "index.html";
            if (!used.Add(name))
                throw new UserFacingException($"two URLs would both be written to {Path.Combine(output, name)}");
            result[i] = Path.Combine(output, name);
        }
        return result;
    }
}
