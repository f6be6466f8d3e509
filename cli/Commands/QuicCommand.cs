using System.CommandLine;
using FastRelay.Cli.Quic;
using FastRelay.Cli.Startup;

namespace FastRelay.Cli.Commands;

/// <summary>`fastrelay quic get|serve`: the managed QUIC stack's HTTP/3 client and file server (ngtcp2 interop).</summary>
public static class QuicCommand
{
    /// <summary>The name and the description are constants so that CliRoot can list this command without building
    /// it (a command line names one top-level command; only that one is built, docs/startup.md).</summary>
    public const string Name = "quic";

    public const string Description = "HTTP/3 over the managed QUIC stack: download files or serve a directory.";

    public static Command Create() => new(Name, Description)
    {
        CreateGet(),
        CreateServe(),
    };

    private static Command CreateGet()
    {
        var urls = new Argument<string[]>("url") { Description = "https://HOST:PORT/PATH URLs; those with the same authority share one connection.", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string?>("--output", "-o") { Description = "File (one URL) or directory (several URLs: DIR/<basename>). Without it bodies are discarded." };
        var insecure = new Option<bool>("--insecure", "-k") { Description = "Do not validate the server certificate." };
        var trust = new Option<string?>("--trust-cert") { Description = "PEM file with extra trusted certificates (e.g. the server's self-signed one)." };
        var disable1Rtt = new Option<bool>("--disable-1rtt-encryption") { Description = "Advertise transport parameter 0xBAAD (unencrypted 1-RTT when the server agrees)." };
        var keyUpdate = new Option<bool>("--key-update") { Description = "Initiate one key update after the first response bytes arrive." };
        var concurrency = new Option<int>("--concurrency") { Description = "Concurrent requests per connection.", DefaultValueFactory = _ => 8 };
        var qlogDir = new Option<string?>("--qlog-dir") { Description = "Write a qlog trace per connection to DIR/<ODCID>_client.sqlog." };
        var handshakeTimeout = new Option<double>("--handshake-timeout") { Description = "Seconds the handshake may take.", DefaultValueFactory = _ => 10 };
        var sessionFile = new Option<string?>("--session-file") { Description = "Resume with a session ticket stored in FILE (0-RTT when the server allows it) and store the new ticket there." };
        var noEarlyData = new Option<bool>("--no-early-data") { Description = "With --session-file: resume, but send no 0-RTT." };
        var pmtud = new Option<int>("--pmtud-max") { Description = "Path MTU discovery up to N bytes of UDP payload (0: off, datagrams stay <= 1452)." };
        var versions = new Option<string>("--quic-version")
        {
            Description = "QUIC versions to offer, most preferred first (v1, v2, v2draft or hex), e.g. v2,v1: the first flight is v1 when listed and a server that speaks v2 switches to it.",
            DefaultValueFactory = _ => "v1",
        };
        var cc = CongestionControlOption();
        var command = new Command("get", "Download one or more URLs over HTTP/3.") { urls, output, insecure, trust, disable1Rtt, keyUpdate, concurrency, qlogDir, handshakeTimeout, sessionFile, noEarlyData, pmtud, versions, cc };
        var logging = CliLogging.AddTo(command);
        command.SetAction((parse, cancellationToken) => QuicGetRunner.RunAsync(new QuicGetOptions
        {
            Urls = parse.GetValue(urls)!,
            Output = parse.GetValue(output),
            Insecure = parse.GetValue(insecure),
            TrustCertificatePath = parse.GetValue(trust),
            Disable1RttEncryption = parse.GetValue(disable1Rtt),
            KeyUpdate = parse.GetValue(keyUpdate),
            Concurrency = parse.GetValue(concurrency),
            Verbose = parse.GetValue(logging.Verbose),
            LogFormat = parse.GetValue(logging.Format),
            QlogDirectory = parse.GetValue(qlogDir),
            HandshakeTimeout = TimeSpan.FromSeconds(parse.GetValue(handshakeTimeout)),
            SessionFile = parse.GetValue(sessionFile),
            EarlyData = !parse.GetValue(noEarlyData),
            MaxPathMtuProbeSize = parse.GetValue(pmtud),
            QuicVersions = ParseVersions(parse.GetValue(versions)!),
            CongestionControl = parse.GetValue(cc),
        }, Console.Out, cancellationToken));
        return command;
    }

    /// <summary>--cc: the congestion controller of every connection (the library's default, NewReno, unless given).</summary>
    private static Option<Protocols.Quic.Recovery.CongestionControlAlgorithm> CongestionControlOption() => new("--cc")
    {
        Description = "Congestion controller: NewReno (RFC 9002) or Cubic (RFC 9438, ngtcp2's default).",
        DefaultValueFactory = _ => Protocols.Quic.Recovery.CongestionControlAlgorithm.NewReno,
    };

    /// <summary>"v2,v1" → the version numbers, in order.</summary>
    internal static List<uint> ParseVersions(string text)
    {
        var versions = new List<uint>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Protocols.Quic.Wire.QuicVersion.TryParse(part, out uint version) || !Protocols.Quic.Wire.QuicVersion.IsSupported(version))
                throw new UserFacingException($"--quic-version: {part} is not a supported QUIC version (v1, v2, v2draft)");
            if (!versions.Contains(version)) versions.Add(version);
        }
        if (versions.Count == 0) throw new UserFacingException("--quic-version: no version given");
        return versions;
    }

    private static Command CreateServe()
    {
        var root = new Option<string>("--root") { Description = "Directory to serve.", Required = true };
        var port = new Option<int>("--port") { Description = "UDP port (0: any free port).", Required = true };
        var address = new Option<string>("--address") { Description = "Address to listen on.", DefaultValueFactory = _ => "127.0.0.1" };
        var cert = new Option<string?>("--cert") { Description = "Certificate PEM (with --key); without both a self-signed ECDSA P-256 one is generated." };
        var key = new Option<string?>("--key") { Description = "Private key PEM." };
        var retry = new Option<bool>("--retry") { Description = "Require address validation (send Retry first)." };
        var disable1Rtt = new Option<bool>("--disable-1rtt-encryption") { Description = "Advertise transport parameter 0xBAAD." };
        var qlogDir = new Option<string?>("--qlog-dir") { Description = "Write a qlog trace per connection to DIR/<ODCID>_server.sqlog." };
        var noEarlyData = new Option<bool>("--no-early-data") { Description = "Issue session tickets but accept no 0-RTT (by default GETs may come in 0-RTT: they are safe to replay)." };
        var pmtud = new Option<int>("--pmtud-max") { Description = "Path MTU discovery up to N bytes of UDP payload (0: off, datagrams stay <= 1452)." };
        var versions = new Option<string>("--quic-version")
        {
            Description = "QUIC versions served (v1, v2, v2draft or hex); a client offering several gets the first of its own list that is here.",
            DefaultValueFactory = _ => "v1,v2",
        };
        var cc = CongestionControlOption();
        var command = new Command("serve", "Serve a directory over HTTP/3 until SIGTERM/SIGINT.") { root, port, address, cert, key, retry, disable1Rtt, qlogDir, noEarlyData, pmtud, versions, cc };
        var logging = CliLogging.AddTo(command);
        command.SetAction((parse, cancellationToken) => QuicServeRunner.RunAsync(new QuicServeOptions
        {
            Root = parse.GetValue(root)!,
            Port = parse.GetValue(port),
            Address = parse.GetValue(address)!,
            CertificatePath = parse.GetValue(cert),
            KeyPath = parse.GetValue(key),
            Retry = parse.GetValue(retry),
            Disable1RttEncryption = parse.GetValue(disable1Rtt),
            Verbose = parse.GetValue(logging.Verbose),
            LogFormat = parse.GetValue(logging.Format),
            QlogDirectory = parse.GetValue(qlogDir),
            EarlyData = !parse.GetValue(noEarlyData),
            MaxPathMtuProbeSize = parse.GetValue(pmtud),
            QuicVersions = ParseVersions(parse.GetValue(versions)!),
            CongestionControl = parse.GetValue(cc),
        }, Console.Out, cancellationToken));
        return SteadyStateRuntime.Mark(command); // carries traffic: tiered compilation off (docs/startup.md)
    }
}
