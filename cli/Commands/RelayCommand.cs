using System.CommandLine;
using System.Runtime.InteropServices;
using FastRelay.Cli.Relay;
using FastRelay.Protocols.CustomUdp.Relay;
using Microsoft.Extensions.Logging;

namespace FastRelay.Cli.Commands;

/// <summary>`fastrelay relay`: run a relay for a bundled profile until Ctrl-C / SIGTERM.</summary>
public static class RelayCommand
{
    public const string StatusDirectory = "/run/fastrelay";

    public static Command Create()
    {
        var profile = new Option<string>("--profile", "-p") { Description = "Profile to relay (custom-udp).", DefaultValueFactory = _ => "custom-udp" };
        var mode = new Option<RelayMode>("--mode", "-m") { Description = "fastpath: copies made in the kernel; userspace: the same wire behaviour in this process.", DefaultValueFactory = _ => RelayMode.FastPath };
        var port = new Option<int>("--port") { Description = "UDP port.", DefaultValueFactory = _ => FastRelay.Protocols.CustomUdp.CustomUdpHeaderFastPath.UdpPort };
        var interfaces = new Option<string[]>("--interface", "-i") { Description = "Interface to attach the fast path to; repeatable. Default: every interface that is up, except lo.", AllowMultipleArgumentsPerToken = true };
        var name = new Option<string>("--name") { Description = "Instance name (pins, status file).", DefaultValueFactory = _ => "custom-udp" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds of silence after which a subscriber is removed.", DefaultValueFactory = _ => 3.0 };
        var objectPath = new Option<string?>("--object") { Description = "Use this compiled object instead of generating one." };
        var bpffs = new Option<string>("--bpffs") { Description = "bpffs root for pinned maps.", DefaultValueFactory = _ => FastRelay.Bpf.BpfFs.DefaultRoot };
        var maxSubscribers = new Option<int>("--max-subscribers") { Description = "Refuse subscribers beyond this many (at most the profile's maximum).", DefaultValueFactory = _ => FastRelay.Protocols.CustomUdp.CustomUdpHeaderFastPath.MaxSubscribers };

        var metrics = new Option<string?>("--metrics") { Description = "Serve Prometheus metrics on http://ADDRESS/metrics (PORT or HOST:PORT; off by default)." };
        var command = new Command("relay", "Run a relay: one upstream per channel, subscribers after a cookie handshake, fan-out in the kernel (or userspace).")
        {
            profile, mode, port, interfaces, name, timeout, objectPath, bpffs, maxSubscribers, metrics,
        };
        var logging = CliLogging.AddTo(command, "Log every subscriber event.");
        command.Add(ConfigFile.CreateOption());
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!string.Equals(parse.GetValue(profile), "custom-udp", StringComparison.OrdinalIgnoreCase))
                throw new UserFacingException($"relay supports the custom-udp profile; the QUIC/MoQ relay is not built yet");
            var instance = parse.GetValue(name)!;
            Directory.CreateDirectory(StatusDirectory);
            using var logs = logging.Create(parse);
            FastRelay.Bpf.LibBpfLog.Use(logs);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            var interfaceList = parse.GetValue(interfaces) is { Length: > 0 } list ? list : null;
            await CustomUdpRelayRunner.RunAsync(new RelayRunOptions
            {
                Mode = parse.GetValue(mode) is var chosen && chosen != RelayMode.Auto ? chosen
                    : throw new UserFacingException("--mode auto is `moq relay`'s; the custom-UDP relay takes FastPath or Userspace"),
                Interfaces = interfaceList,
                ObjectPath = parse.GetValue(objectPath),
                BpfFsRoot = parse.GetValue(bpffs)!,
                MetricsAddress = parse.GetValue(metrics),
                Relay = new RelayOptions
                {
                    Name = instance,
                    Port = parse.GetValue(port),
                    SubscriberTimeout = TimeSpan.FromSeconds(parse.GetValue(timeout)),
                    MaxSubscribers = Math.Clamp(parse.GetValue(maxSubscribers), 1, FastRelay.Protocols.CustomUdp.CustomUdpHeaderFastPath.MaxSubscribers),
                    StatusFile = StatusFile(instance),
                },
            }, logs, stop.Token);
            return 0;
        });
        return command;
    }

    public static string StatusFile(string instance) => Path.Combine(StatusDirectory, instance + ".json");
}
