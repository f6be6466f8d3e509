using FastRelay.Cli.Relay;
using System.CommandLine;
using FastRelay.Cli.Moq;
using FastRelay.Cli.Startup;

namespace FastRelay.Cli.Commands;

/// <summary>
/// `fastrelay moq relay` and `fastrelay moq status`. The `moq` group itself belongs to MoqCommand (publish, subscribe);
/// <see cref="Register"/> adds these two verbs to it, or creates the group when it is not there.
/// </summary>
public static class MoqRelayCommand
{
    public static Command CreateRelay()
    {
        var port = new Option<int>("--port", "-p") { Description = $"UDP port (raw QUIC moqt-19 and WebTransport share it).", DefaultValueFactory = _ => MoqRelayRunner.DefaultPort };
        var address = new Option<string>("--address") { Description = "IP address to listen on (0.0.0.0 or :: for every interface).", DefaultValueFactory = _ => "127.0.0.1" };
        var cert = new Option<string?>("--cert") { Description = "Certificate PEM (default: a fresh self-signed one, printed with its hashes)." };
        var key = new Option<string?>("--key") { Description = "Private key PEM for --cert." };
        var upstream = new Option<string?>("--upstream") { Description = "Take namespaces no local publisher has from this relay: moqt://HOST:PORT." };
        var upstreamToken = new Option<string?>("--upstream-token") { Description = "AUTHORIZATION TOKEN sent with this relay's requests upstream." };
        var upstreamInsecure = new Option<bool>("--upstream-insecure") { Description = "Accept any certificate from --upstream (labs, tests)." };
        var upstreamTrust = new Option<string?>("--upstream-trust") { Description = "PEM certificate to trust for --upstream (e.g. its self-signed one)." };
        var auth = new Option<string?>("--auth") { Description = "JSON file: namespace prefix -> publish / subscribe tokens (see docs/moq.md). Without --auth or --auth-token the relay is open." };
        var authToken = new Option<string?>("--auth-token") { Description = "One token that must accompany every publish and subscribe." };
        var name = new Option<string>("--name") { Description = "Instance name (status file).", DefaultValueFactory = _ => "moq" };
        var statusDir = new Option<string>("--status-dir") { Description = "Where the status file goes.", DefaultValueFactory = _ => MoqRelayRunner.DefaultStatusDirectory };
        var statusInterval = new Option<double>("--status-interval") { Description = "Seconds between rewrites of the status file (0.05..60).", DefaultValueFactory = _ => 1 };
        var webTransport = new Option<string>("--webtransport-path") { Description = "WebTransport path for browsers ('none' to turn off).", DefaultValueFactory = _ => "/moq" };
        var cacheMb = new Option<long>("--cache-mb") { Description = "Cache bound for all tracks, MiB.", DefaultValueFactory = _ => 256 };
        var trackCacheMb = new Option<long>("--track-cache-mb") { Description = "Cache bound per track, MiB (the newest group is always kept, up to this).", DefaultValueFactory = _ => 16 };
        var queueKb = new Option<long>("--queue-kb") { Description = "Send queue per subscriber session, KiB; beyond it the lowest-priority subgroups are dropped.", DefaultValueFactory = _ => 4096 };
        var metrics = new Option<string?>("--metrics") { Description = "Serve Prometheus metrics on http://ADDRESS/metrics (PORT or HOST:PORT; off by default)." };
        var web = new Option<int?>("--web") { Description = "Serve the browser viewer on this TCP port (same address): http://ADDRESS:PORT/?namespace=NS&track=T, plus /certificate.sha256." };
        var mode = new Option<RelayMode>("--mode", "-m") { Description = "fastpath: the kernel (TC eBPF) forwards subgroup data from publishers to subscribers whose raw-QUIC connections negotiated disable_1rtt_encryption (moq publish/subscribe --fast-path); everyone else is served from userspace. userspace: the relay sends every object itself. auto (default): fastpath where it can run (a non-loopback --address, eBPF usable, an interface to attach to), else userspace with the reason printed.", DefaultValueFactory = _ => RelayMode.Auto };
        var interfaces = new Option<string[]>("--interface", "-i") { Description = "Fast path: interface to attach to; repeatable. Default: every interface that is up, except lo.", AllowMultipleArgumentsPerToken = true };
        var bpffs = new Option<string>("--bpffs") { Description = "Fast path: bpffs root for pinned maps.", DefaultValueFactory = _ => FastRelay.Bpf.BpfFs.DefaultRoot };
        var objectPath = new Option<string?>("--object") { Description = "Fast path: use this compiled quic_moq object instead of generating one." };
        var qlogDir = new Option<string?>("--qlog-dir") { Description = "Write a qlog trace per QUIC connection to DIR/<ODCID>_server.sqlog (_client for --upstream); a fast-path connection's shows the kernel's copies and their ACKs." };
        var fastPathAcks = new Option<string>("--fast-path-acks") { Description = "Fast path: ask each fast-path subscriber (QUIC ACK frequency extension) for an ACK per THRESHOLD+1 packets or DELAY_MS after the first unacknowledged one, as THRESHOLD:DELAY_MS; 'off' leaves RFC 9000's ACK per two packets.", DefaultValueFactory = _ => "4:20" };
        var command = new Command("relay", "Run a MoQ relay (draft-19): publishers and subscribers over raw QUIC (moqt://) and WebTransport (https://) on one port.")
        {
            port, address, cert, key, upstream, upstreamToken, upstreamInsecure, upstreamTrust, auth, authToken, name, statusDir, statusInterval, webTransport,
            cacheMb, trackCacheMb, queueKb, web, metrics, mode, interfaces, bpffs, objectPath, fastPathAcks, qlogDir,
        };
        var logging = CliLogging.AddTo(command);
        command.Add(ConfigFile.CreateOption());
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetValue(webTransport)!;
            return await MoqRelayRunner.RunAsync(new MoqRelayCliOptions
            {
                Port = parse.GetValue(port),
                Address = parse.GetValue(address)!,
                CertificatePath = parse.GetValue(cert),
                KeyPath = parse.GetValue(key),
                Upstream = parse.GetValue(upstream),
                UpstreamToken = parse.GetValue(upstreamToken),
                UpstreamInsecure = parse.GetValue(upstreamInsecure),
                UpstreamTrustPath = parse.GetValue(upstreamTrust),
                AuthFile = parse.GetValue(auth),
                AuthToken = parse.GetValue(authToken),
                Name = parse.GetValue(name)!,
                StatusDirectory = parse.GetValue(statusDir)!,
                StatusInterval = parse.GetValue(statusInterval) is var seconds and >= 0.05 and <= 60
                    ? TimeSpan.FromSeconds(seconds) : throw new UserFacingException("--status-interval must be 0.05..60 seconds"),
                WebTransportPath = path == "none" ? null : path.StartsWith('/') ? path : throw new UserFacingException("--webtransport-path must start with '/' (or be 'none')"),
                CacheMegabytes = parse.GetValue(cacheMb),
                TrackCacheMegabytes = parse.GetValue(trackCacheMb),
                SubscriberQueueKilobytes = parse.GetValue(queueKb),
                Verbose = parse.GetValue(logging.Verbose),
                LogFormat = parse.GetValue(logging.Format),
                WebPort = parse.GetValue(web),
                MetricsAddress = parse.GetValue(metrics),
                Mode = parse.GetValue(mode),
                Interfaces = parse.GetValue(interfaces) is { Length: > 0 } list ? list : null,
                BpfFsRoot = parse.GetValue(bpffs)!,
                ObjectPath = parse.GetValue(objectPath),
                QlogDirectory = parse.GetValue(qlogDir),
                FastPathAckFrequency = FastRelay.Protocols.Moq.Relay.FastPath.FastPathAckFrequency.TryParse(parse.GetValue(fastPathAcks)!, out var acks)
                    ? acks : throw new UserFacingException("--fast-path-acks must be THRESHOLD:DELAY_MS (threshold 0..1000, delay 1..16383 ms) or 'off'"),
            }, Console.Out, cancellationToken);
        });
        return SteadyStateRuntime.Mark(command); // carries traffic: tiered compilation off (docs/startup.md)
    }

    public static Command CreateStatus()
    {
        var name = new Option<string?>("--name") { Description = "Only this relay instance." };
        var json = new Option<bool>("--json") { Description = "Print the raw status JSON." };
        var statusDir = new Option<string>("--status-dir") { Description = "Where relays write their status.", DefaultValueFactory = _ => MoqRelayRunner.DefaultStatusDirectory };
        var command = new Command("status", "Show running MoQ relays: sessions (transport, remote), tracks, subscribers, cache, objects in/out, drops.") { name, json, statusDir };
        command.SetAction(parse => MoqRelayStatusPrinter.Print(parse.GetValue(statusDir)!, parse.GetValue(name), parse.GetValue(json), Console.Out));
        return command;
    }

    /// <summary>Adds `relay` and `status` under `moq` (creating `moq` when no other verb made it); idempotent.</summary>
    public static void Register(RootCommand root)
    {
        var moq = root.Subcommands.FirstOrDefault(c => c.Name == "moq");
        if (moq is null)
        {
            moq = new Command("moq", "Media over QUIC (draft-19).");
            root.Add(moq);
        }
        if (!moq.Subcommands.Any(c => c.Name == "relay")) moq.Add(CreateRelay());
        if (!moq.Subcommands.Any(c => c.Name == "status")) moq.Add(CreateStatus());
    }
}
