using FastRelay.Cli.Metrics;
using FastRelay.Protocols.Moq.Relay.Status;
using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using FastRelay.Cli.Quic;
using FastRelay.Protocols.Moq.Relay;
using FastRelay.Protocols.Moq.Relay.Auth;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Protocols.Quic.Tls.Certificates;
using Microsoft.Extensions.Logging;

namespace FastRelay.Cli.Moq;

/// <summary>What `fastrelay moq relay` was asked for, already parsed.</summary>
public sealed record MoqRelayCliOptions
{
    public string Address { get; init; } = "127.0.0.1";
    public int Port { get; init; } = MoqRelayRunner.DefaultPort;
    public string? CertificatePath { get; init; }
    public string? KeyPath { get; init; }
    public string? Upstream { get; init; }
    public string? UpstreamToken { get; init; }
    public bool UpstreamInsecure { get; init; }
    public string? UpstreamTrustPath { get; init; }
    public string? AuthFile { get; init; }
    public string? AuthToken { get; init; }
    public string Name { get; init; } = "moq";
    public string StatusDirectory { get; init; } = MoqRelayRunner.DefaultStatusDirectory;
    public TimeSpan StatusInterval { get; init; } = TimeSpan.FromSeconds(1);
    public string? WebTransportPath { get; init; } = "/moq";
    public long CacheMegabytes { get; init; } = 256;
    public long TrackCacheMegabytes { get; init; } = 16;
    public long SubscriberQueueKilobytes { get; init; } = 4096;
    public bool Verbose { get; init; }
    public LogFormat LogFormat { get; init; }
    /// <summary>TCP port for the browser viewer (`--web`); null: no viewer. 0 picks a free port.</summary>
    public int? WebPort { get; init; }
    /// <summary>Where the viewer's files are (tests); null: moq-viewer/ beside the executable.</summary>
    public string? WebDirectory { get; init; }
    /// <summary>`--metrics`: serve Prometheus metrics on this address ("PORT" or "HOST:PORT"); null = off.</summary>
    public string? MetricsAddress { get; init; }

    /// <summary>The QUIC kernel fast path (docs/quic-fast-path.md), userspace, or auto: the fast path where it can run.</summary>
    public FastRelay.Cli.Relay.RelayMode Mode { get; init; } = FastRelay.Cli.Relay.RelayMode.Auto;

    /// <summary>Fast path: interfaces to attach to (null: every interface that is up, except lo).</summary>
    public IReadOnlyList<string>? Interfaces { get; init; }

    public string BpfFsRoot { get; init; } = FastRelay.Bpf.BpfFs.DefaultRoot;

    /// <summary>Fast path: a compiled quic_moq object; null: generated and compiled at start.</summary>
    public string? ObjectPath { get; init; }
    /// <summary>Fast path: what each fast-path subscriber is asked of its ACKs (null: RFC 9000's default).</summary>
    public FastRelay.Protocols.Moq.Relay.FastPath.FastPathAckFrequency? FastPathAckFrequency { get; init; } =
        FastRelay.Protocols.Moq.Relay.FastPath.FastPathAckFrequency.Default;
    /// <summary>Directory for one qlog file per QUIC connection (created if missing); null: no qlog.</summary>
    public string? QlogDirectory { get; init; }
}

/// <summary>
/// `fastrelay moq relay`: a <see cref="RelayHost"/> until SIGINT/SIGTERM. Prints "listening on URL ..." once ready
/// (scripts and tests wait for that line) and writes its status to STATUS_DIR/NAME.json every second, which
/// `fastrelay moq status` reads.
/// </summary>
public static class MoqRelayRunner
{
    public const int DefaultPort = 4443;
    /// <summary>Beside the custom-UDP relay's status files (/run/fastrelay/*.json), in its own folder so neither reads the other's.</summary>
    public const string DefaultStatusDirectory = "/run/fastrelay/moq";

    public static string StatusFile(string directory, string name) => Path.Combine(directory, name + ".json");

    public static async Task<int> RunAsync(MoqRelayCliOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        if (!IPAddress.TryParse(options.Address, out var address))
            throw new UserFacingException($"--address {options.Address} is not an IP address");
        if (options.Port is < 0 or > 65535)
            throw new UserFacingException($"--port {options.Port} is not a UDP port");
        if (options.AuthFile is not null && options.AuthToken is not null)
            throw new UserFacingException("--auth and --auth-token exclude each other");
        if (options.CacheMegabytes <= 0 || options.TrackCacheMegabytes <= 0 || options.SubscriberQueueKilobytes <= 0)
            throw new UserFacingException("--cache-mb, --track-cache-mb and --queue-kb must be positive");
        var auth = LoadAuth(options);
        var upstream = ParseUpstream(options.Upstream);
        if (options.WebPort is { } webPort && (webPort is < 0 or > 65535))
            throw new UserFacingException($"--web {webPort} is not a TCP port");
        if (options.WebPort is not null && options.WebTransportPath is null)
            throw new UserFacingException("--web needs WebTransport (--webtransport-path is 'none')");
        // Before the certificate and the socket: a viewer that is not built is a clear error, not a broken page.
        var site = options.WebPort is null ? null : Viewer.ViewerSite.Load(options.WebDirectory);
        var certificate = LoadCertificate(options, output);
        X509Certificate2Collection? trust = null;
        if (options.UpstreamTrustPath is { } trustPath)
        {
            try { trust = [X509Certificate2.CreateFromPemFile(trustPath)]; }
            catch (Exception e) when (e is IOException or CryptographicException or ArgumentException)
            {
                throw new UserFacingException($"--upstream-trust {trustPath}: {e.Message}", e);
            }
        }
        string statusFile;
        try
        {
            Directory.CreateDirectory(options.StatusDirectory);
            statusFile = StatusFile(options.StatusDirectory, options.Name);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"--status-dir {options.StatusDirectory}: {e.Message}", e);
        }

        FastRelay.Cli.Quic.QuicLogging.PrepareQlogDirectory(options.QlogDirectory);
        using var logs = CliLogging.Create(options.Verbose, options.LogFormat);
        using var stop = StopSignals.Link(cancellationToken);

        var relayOptions = new RelayOptions
        {
            Auth = auth,
            LoggerFactory = logs,
            UpstreamTokens = options.UpstreamToken is { } t ? [AuthToken.FromText(t)] : [],
            Limits = new RelayLimits
            {
                CacheBytesTotal = options.CacheMegabytes << 20,
                CacheBytesPerTrack = options.TrackCacheMegabytes << 20,
                CacheBytesPerSession = Math.Max(options.TrackCacheMegabytes, options.CacheMegabytes / 4) << 20,
                SendQueueBytesPerSession = options.SubscriberQueueKilobytes << 10,
            },
        };
        Task<RelayHost> StartHostAsync(FastRelay.Protocols.Moq.Relay.FastPath.RelayFastPathOptions? fastPath) => RelayHost.StartAsync(new RelayHostOptions
        {
            Name = options.Name,
            ListenEndPoint = new IPEndPoint(address, options.Port),
            Certificate = certificate,
            Relay = relayOptions,
            StatusFile = statusFile,
            StatusInterval = options.StatusInterval,
            Upstream = upstream,
            UpstreamInsecure = options.UpstreamInsecure,
            UpstreamTrust = trust,
            WebTransportPath = options.WebTransportPath,
            FastPath = fastPath,
            QlogDirectory = options.QlogDirectory,
        }, stop.Token);

        var auto = options.Mode == FastRelay.Cli.Relay.RelayMode.Auto;
        string? fastPathOff = options.Mode == FastRelay.Cli.Relay.RelayMode.Userspace ? "--mode userspace" : auto ? AutoFastPathObstacle(options, address) : null;
        RelayHost host;
        try
        {
            try
            {
                host = await StartHostAsync(fastPathOff is null ? await FastPathOptionsAsync(options, stop.Token) : null);
            }
            // Auto: whatever stopped the fast path (no clang, no BPF privileges, a verifier or attach error) is printed
            // and the same relay runs in userspace. Listening errors are not the fast path's: the retry reports them.
            catch (Exception e) when (auto && fastPathOff is null && e is not (Protocols.Quic.Api.QuicException or System.Net.Sockets.SocketException or OperationCanceledException))
            {
                fastPathOff = e.Message.ReplaceLineEndings(" ");
                host = await StartHostAsync(null);
            }
        }
        catch (Exception e) when (e is Protocols.Quic.Api.QuicException or System.Net.Sockets.SocketException)
        {
            throw new UserFacingException($"cannot listen on {address}:{options.Port}: {e.Message}", e);
        }
        await using (host)
        {
            // SIGUSR1: the status file now (the bench reads its window's edges this way; an operator may
            // too). Registered before the listening line, which is what callers wait for.
            using var statusNow = PosixSignalRegistration.Create(StatusSignal, c =>
            {
                c.Cancel = true;
                _ = Task.Run(() =>
                {
                    try { host.WriteStatusNow(); }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException) { output.WriteLine($"status file: {e.Message}"); }
                });
            });
            var mode = host.FastPath is { } kernel
                ? $"fast path on {string.Join(", ", kernel.Plane.Interfaces)}"
                : auto ? $"userspace: fast path off ({fastPathOff})" : "userspace";
            output.WriteLine($"listening on {string.Join(" ", host.Listening)} (status {statusFile}{(upstream is null ? "" : ", upstream " + upstream)}{(auth.IsOpen ? ", OPEN: no authorization" : "")}; {mode})");
            await using var viewer = StartViewer(options, site, address, certificate, host, logs, output);
            using var metrics = new MoqRelayMetrics(host.Snapshot);
            await using var exporter = options.MetricsAddress is { } metricsAddress
                ? PrometheusEndpoint.Start(metricsAddress, logs.CreateLogger("fastrelay.metrics"), metrics.Meter) : null;
            if (exporter is not null)
                output.WriteLine($"metrics on {exporter.Url}");
            output.Flush();
            try { await Task.Delay(Timeout.Infinite, stop.Token); }
            catch (OperationCanceledException) { }
        }
        output.WriteLine("stopped");
        return 0;
    }

    /// <summary>SIGUSR1 (10 on Linux): rewrite the status file now. .NET names no such signal; a raw number is accepted.</summary>
    public const PosixSignal StatusSignal = (PosixSignal)10;

    private static async Task<FastRelay.Protocols.Moq.Relay.FastPath.RelayFastPathOptions> FastPathOptionsAsync(MoqRelayCliOptions options, CancellationToken cancellationToken) =>
        new(options.ObjectPath ?? await FastRelay.Cli.Gen.GenPipeline.BuildForRelayAsync(FastRelay.Protocols.Quic.QuicMoqHeaderFastPath.Protocol, options.Name, null, cancellationToken),
            options.Interfaces, options.BpfFsRoot, options.Name) { AckFrequency = options.FastPathAckFrequency };

    /// <summary>
    /// Why `--mode auto` cannot use the fast path before trying it, or null. The TC programs see packets on real
    /// interfaces only (never on lo), so a loopback listener gains nothing; everything else (clang, privileges, the
    /// verifier, attaching) is found out by trying.
    /// </summary>
    private static string? AutoFastPathObstacle(MoqRelayCliOptions options, IPAddress address)
    {
        if (IPAddress.IsLoopback(address))
            return $"--address {address} is loopback; the kernel fast path runs on real interfaces (listen on 0.0.0.0, :: or an interface's address)";
        if (!OperatingSystem.IsLinux())
            return "TC eBPF needs Linux";
        if (options.Interfaces is null && FastRelay.Relay.FastPathHost.DefaultInterfaces().Count == 0)
            return "no interface other than lo is up";
        return null;
    }

    /// <summary>The `--web` viewer on TCP (same address as the relay); prints its URL, which scripts and tests wait for.</summary>
    private static Viewer.ViewerHttpServer? StartViewer(MoqRelayCliOptions options, Viewer.ViewerSite? site, IPAddress address,
        X509Certificate2 certificate, RelayHost host, ILoggerFactory logs, TextWriter output)
    {
        if (site is null || options.WebPort is not { } port) return null;
        Viewer.ViewerHttpServer viewer;
        try
        {
            viewer = Viewer.ViewerHttpServer.Start(new IPEndPoint(address, port), site, certificate, host.LocalEndPoint.Port, options.WebTransportPath!,
                logs.CreateLogger<Viewer.ViewerHttpServer>());
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new UserFacingException($"--web: cannot listen on {address}:{port}/tcp: {e.Message}", e);
        }
        var at = viewer.LocalEndPoint;
        // A wildcard address is opened in a browser as loopback: http://127.0.0.1 is a secure context, another host is not.
        var hostText = at.Address.Equals(IPAddress.Any) ? "127.0.0.1" : at.Address.Equals(IPAddress.IPv6Any) ? "[::1]"
            : at.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{at.Address}]" : at.Address.ToString();
        output.WriteLine($"viewer on http://{hostText}:{at.Port}/?namespace=live/cam1&track=video (certificate SHA-256 at /certificate.sha256" +
            $"{(Viewer.ViewerHttpServer.IsPinnable(certificate) ? "" : "; not pinnable by hash: browsers must trust it")})");
        return viewer;
    }

    private static RelayAuthPolicy LoadAuth(MoqRelayCliOptions options)
    {
        if (options.AuthToken is { } token)
        {
            if (token.Length == 0) throw new UserFacingException("--auth-token is empty");
            return RelayAuthPolicy.SingleToken(token);
        }
        if (options.AuthFile is not { } file) return RelayAuthPolicy.Open;
        try
        {
            return AuthFile.Load(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            throw new UserFacingException($"--auth {file}: {e.Message}", e);
        }
    }

    private static Uri? ParseUpstream(string? text)
    {
        if (text is null) return null;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme != "moqt" || string.IsNullOrEmpty(uri.Host))
            throw new UserFacingException($"--upstream {text}: expected moqt://HOST:PORT (raw QUIC, ALPN moqt-19)");
        return uri;
    }

    private static X509Certificate2 LoadCertificate(MoqRelayCliOptions options, TextWriter output)
    {
        bool selfSigned = options.CertificatePath is null;
        // Self-signed: ECDSA P-256 valid for 10 days, what browsers accept through WebTransport serverCertificateHashes (at most 14).
        var certificate = Quic.ServerCertificates.Load(options.CertificatePath, options.KeyPath, "fastrelay-moq-relay", TimeSpan.FromDays(10), output);
        if (!selfSigned) return certificate;
        output.WriteLine($"  certificate SHA-256 (WebTransport serverCertificateHashes): {Convert.ToBase64String(SHA256.HashData(certificate.RawData))} = hex {Convert.ToHexString(SHA256.HashData(certificate.RawData)).ToLowerInvariant()}");
        output.WriteLine($"  SPKI SHA-256 (chromium --ignore-certificate-errors-spki-list): {Convert.ToBase64String(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()))}");
        return certificate;
    }
}
