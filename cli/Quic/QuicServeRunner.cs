using FastRelay.Protocols.Quic.Tls.Certificates;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Http3;
using Microsoft.Extensions.Logging;

namespace FastRelay.Cli.Quic;

public sealed class QuicServeOptions
{
    public required string Root { get; init; }
    public int Port { get; init; }
    public string Address { get; init; } = "127.0.0.1";
    public string? CertificatePath { get; init; }
    public string? KeyPath { get; init; }
    public bool Retry { get; init; }
    public bool Disable1RttEncryption { get; init; }
    public bool Verbose { get; init; }
    public LogFormat LogFormat { get; init; }
    /// <summary>Directory for one qlog file per connection (created if missing); null: no qlog.</summary>
    public string? QlogDirectory { get; init; }
    /// <summary>Accept 0-RTT from resuming clients (tickets are issued either way).</summary>
    public bool EarlyData { get; init; } = true;
    /// <summary>Path MTU discovery maximum (0: off).</summary>
    public int MaxPathMtuProbeSize { get; init; }
    public FastRelay.Protocols.Quic.Recovery.CongestionControlAlgorithm CongestionControl { get; init; }
    /// <summary>QUIC versions served (default v1 and v2).</summary>
    public List<uint> QuicVersions { get; init; } = [Protocols.Quic.Wire.QuicVersion.V1, Protocols.Quic.Wire.QuicVersion.V2];
}

/// <summary>`fastrelay quic serve`: an <see cref="Http3Server"/> until SIGTERM/SIGINT, then GOAWAY and a graceful
/// close. Prints "listening on ADDR:PORT" once ready (tests and scripts wait for that line).</summary>
public static class QuicServeRunner
{
    public static async Task<int> RunAsync(QuicServeOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(options.Root))
            throw new UserFacingException($"--root {options.Root} is not a directory");
        if (!IPAddress.TryParse(options.Address, out var address))
            throw new UserFacingException($"--address {options.Address} is not an IP address");
        QuicLogging.PrepareQlogDirectory(options.QlogDirectory);
        var certificate = ServerCertificates.Load(options.CertificatePath, options.KeyPath, "fastrelay-quic-serve", selfSignedValidity: null, output);

        using var logs = CliLogging.Create(options.Verbose, options.LogFormat, Microsoft.Extensions.Logging.LogLevel.Warning);
        var logger = logs.CreateLogger("quic-serve");
        using var stop = StopSignals.Link(cancellationToken);

        await using var server = new Http3Server(options.Root, logger);
        try
        {
            await server.ListenAsync(new QuicListenerOptions
            {
                ListenEndPoint = new IPEndPoint(address, options.Port),
                ApplicationProtocols = [Http3Server.Alpn],
                RequireAddressValidation = options.Retry,
                ConnectionOptions = new QuicServerConnectionOptions
                {
                    ServerCertificate = certificate,
                    ApplicationProtocols = [Http3Server.Alpn],
                    Disable1RttEncryption = options.Disable1RttEncryption,
                    EnableEarlyData = options.EarlyData,
                    MaxPathMtuProbeSize = options.MaxPathMtuProbeSize,
                    QuicVersions = options.QuicVersions,
                    QlogDirectory = options.QlogDirectory,
                    CongestionControl = options.CongestionControl,
                    LoggerFactory = logs,
                },
            }, stop.Token);
        }
        catch (Exception e) when (e is QuicException or System.Net.Sockets.SocketException or NotImplementedException)
        {
            throw new UserFacingException($"cannot listen on {address}:{options.Port}: {e.Message}", e);
        }
        output.WriteLine($"listening on {server.LocalEndPoint} (HTTP/3, root {server.Root}{(options.Retry ? ", retry" : "")})");
        output.Flush();
        await server.RunAsync(stop.Token);
        output.WriteLine("stopped");
        return 0;
    }
}
