using System.CommandLine;
using FastRelay.Cli.Relay;
using FastRelay.Protocols.CustomUdp.Relay;
using Microsoft.Extensions.Logging;
using FastRelay.Cli.Startup;

namespace FastRelay.Cli.Commands;

/// <summary>`fastrelay relay`: run a relay for a bundled profile until Ctrl-C / SIGTERM.</summary>
public static class RelayCommand
{
    /// <summary>The name and the description are constants so that CliRoot can list this command without building
    /// it (a command line names one top-level command; only that one is built, docs/startup.md).</summary>
    public const string Name = "relay";

    public const string Description = "Run a relay: the custom-UDP profile (cookie handshake, fan-out in the kernel or userspace), or the generic host for your own descriptor (--assembly/--project with --config).";

    public const string StatusDirectory = "/run/fastrelay";

    public static Command Create()
    {
        var profile = new Option<string>("--profile", "-p") { Description = "Bundled profile to relay (custom-udp); the QUIC/MoQ relay is `fastrelay moq relay`.", DefaultValueFactory = _ => "custom-udp" };
        var assemblies = new Option<string[]>("--assembly", "-a") { Description = "Relay your own descriptor: a built assembly holding [FastRelayProtocol] descriptors (generic host; needs --config for channels); repeatable." };
        var projects = new Option<string[]>("--project") { Description = "Like --assembly, but build this project first (as `fastrelay gen --project`); repeatable." };
        var protocolName = new Option<string?>("--protocol") { Description = "The descriptor's protocol name, when the assemblies hold more than one." };
        var mode = new Option<RelayMode>("--mode", "-m") { Description = "fastpath: copies made in the kernel; userspace: the same wire behaviour in this process.", DefaultValueFactory = _ => RelayMode.FastPath };
        var port = new Option<int?>("--port") { Description = "UDP port (default: the descriptor's UdpPort; custom-udp: 7400)." };
        var interfaces = new Option<string[]>("--interface", "-i") { Description = "Interface to attach the fast path to; repeatable. Default: every interface that is up, except lo.", AllowMultipleArgumentsPerToken = true };
        var name = new Option<string>("--name") { Description = "Instance name (pins, status file); default: custom-udp, or the protocol name for your own descriptor.", DefaultValueFactory = _ => "custom-udp" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds of silence after which a subscriber is removed.", DefaultValueFactory = _ => 3.0 };
        var objectPath = new Option<string?>("--object") { Description = "Use this compiled object instead of generating one." };
        var bpffs = new Option<string>("--bpffs") { Description = "bpffs root for pinned maps.", DefaultValueFactory = _ => FastRelay.Bpf.BpfFs.DefaultRoot };
        var maxSubscribers = new Option<int>("--max-subscribers") { Description = "Refuse subscribers beyond this many (at most the profile's maximum).", DefaultValueFactory = _ => FastRelay.Protocols.CustomUdp.CustomUdpHeaderFastPath.MaxSubscribers };

        var control = new Option<string?>("--control") { Description = "Generic relay: serve the control API (HTTP/JSON, bearer token) on PORT or HOST:PORT; off by default, keep it on loopback (`relay ctl`)." };
        var controlToken = new Option<string?>("--control-token-file") { Description = "The control API's token (16-256 visible characters); default: a new one written 0600 to /run/fastrelay/NAME.control-token." };
        var metrics = new Option<string?>("--metrics") { Description = "Serve Prometheus metrics on http://ADDRESS/metrics (PORT or HOST:PORT; off by default)." };
        var command = new SectionedCommand(Name, Description,
            RelayConfigFile.Sections)
        {
            profile, assemblies, projects, protocolName, mode, port, interfaces, name, timeout, objectPath, bpffs, maxSubscribers, metrics, control, controlToken,
            RelayCtlCommand.Create(),
        };
        var logging = CliLogging.AddTo(command, "Log every subscriber event.");
        var config = ConfigFile.CreateOption();
        command.Add(config);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var generic = (parse.GetValue(assemblies) ?? []).Length + (parse.GetValue(projects) ?? []).Length > 0;
            if (!generic)
                CheckProfile(parse.GetValue(profile)!);
            // The default name is the custom-UDP relay's; a generic relay not named explicitly takes its protocol's.
            var named = parse.GetResult(name) is not (null or { Implicit: true });
            var instance = parse.GetValue(name)!;
            Directory.CreateDirectory(StatusDirectory);
            using var logs = logging.Create(parse);
            FastRelay.Bpf.LibBpfLog.Use(logs);
            using var stop = StopSignals.Link(cancellationToken);
            var relayMode = parse.GetValue(mode) is var chosenMode && chosenMode != RelayMode.Auto ? chosenMode
                : throw new UserFacingException("--mode auto is `moq relay`'s; `fastrelay relay` takes FastPath or Userspace");
            if (generic)
            {
                await GenericRelayRunner.RunAsync(new GenericRelayOptions
                {
                    Assemblies = parse.GetValue(assemblies) ?? [],
                    Projects = parse.GetValue(projects) ?? [],
                    Protocol = parse.GetValue(protocolName),
                    ConfigPath = parse.GetValue(config),
                    Port = parse.GetValue(port),
                    Name = named ? instance : null,
                    Mode = relayMode,
                    Interfaces = parse.GetValue(interfaces) is { Length: > 0 } chosen ? chosen : null,
                    ObjectPath = parse.GetValue(objectPath),
                    BpfFsRoot = parse.GetValue(bpffs)!,
                    StatusDirectory = StatusDirectory,
                    ControlAddress = parse.GetValue(control),
                    ControlTokenFile = parse.GetValue(controlToken),
                }, logs, stop.Token);
                return 0;
            }
            if (parse.GetValue(control) is not null || parse.GetValue(controlToken) is not null)
                throw new UserFacingException("--control is the generic host's (--assembly/--project with --config); the custom-UDP relay takes subscribers by handshake");
            if (parse.GetValue(config) is { } file && RelayConfigFile.HasSections(file))
                throw new UserFacingException($"{file}: \"channels\" and \"sequence\" configure the generic host: give --assembly or --project (the custom-UDP relay takes subscribers by handshake)");
            var interfaceList = parse.GetValue(interfaces) is { Length: > 0 } list ? list : null;
            await CustomUdpRelayRunner.RunAsync(new RelayRunOptions
            {
                Mode = relayMode,
                Interfaces = interfaceList,
                ObjectPath = parse.GetValue(objectPath),
                BpfFsRoot = parse.GetValue(bpffs)!,
                MetricsAddress = parse.GetValue(metrics),
                Relay = new RelayOptions
                {
                    Name = instance,
                    Port = parse.GetValue(port) ?? FastRelay.Protocols.CustomUdp.CustomUdpHeaderFastPath.UdpPort,
                    SubscriberTimeout = TimeSpan.FromSeconds(parse.GetValue(timeout)),
                    MaxSubscribers = Math.Clamp(parse.GetValue(maxSubscribers), 1, FastRelay.Protocols.CustomUdp.CustomUdpHeaderFastPath.MaxSubscribers),
                    StatusFile = StatusFile(instance),
                },
            }, logs, stop.Token);
            return 0;
        });
        return SteadyStateRuntime.Mark(command); // carries traffic: tiered compilation off (docs/startup.md)
    }

    /// <summary>`relay --profile` serves custom-udp; every other name gets an answer that says where its relay is.</summary>
    public static void CheckProfile(string profile)
    {
        if (string.Equals(profile, "custom-udp", StringComparison.OrdinalIgnoreCase))
            return;
        if (string.Equals(profile, "quic", StringComparison.OrdinalIgnoreCase) || string.Equals(profile, "moq", StringComparison.OrdinalIgnoreCase))
            throw new UserFacingException($"the {profile} profile is relayed by `fastrelay moq relay` (QUIC/MoQ, raw QUIC and WebTransport); `relay --profile` serves custom-udp");
        throw new UserFacingException($"unknown profile '{profile}': `relay --profile` serves custom-udp; the quic profile is relayed by `fastrelay moq relay`; " +
                                      "your own descriptor by `fastrelay relay --assembly X.dll --protocol NAME --config relay.json`");
    }

    public static string StatusFile(string instance) => Path.Combine(StatusDirectory, instance + ".json");
}
