using System.CommandLine;
using FastRelay.Protocols.CustomUdp.Clients;
using FastRelay.Protocols.CustomUdp.Wire;
using FastRelay.Cli.Startup;

namespace FastRelay.Cli.Commands;

/// <summary>`fastrelay subscribe`: subscribe to a custom-UDP channel, NACK gaps, verify payloads, measure one-way delay.</summary>
public static class SubscribeCommand
{
    /// <summary>The name and the description are constants so that CliRoot can list this command without building
    /// it (a command line names one top-level command; only that one is built, docs/startup.md).</summary>
    public const string Name = "subscribe";

    public const string Description = "Subscribe to a custom-UDP relay channel: sequence gaps, NACK/repair, payload integrity and one-way delay (same machine).";

    /// <summary>Exit code when payloads failed verification or came from another channel.</summary>
    public const int CorruptionExitCode = 3;

    public static Command Create()
    {
        var relay = new Option<string>("--relay", "-r") { Description = "Relay address HOST[:PORT] (IPv6: [ADDR]:PORT; port default 7400).", Required = true };
        var channel = new Option<ushort>("--channel", "-c") { Description = "Channel to subscribe to (0..65535).", Required = true };
        var duration = new Option<double?>("--duration", "-d") { Description = "Seconds to run (default: until Ctrl+C or SIGTERM)." };
        var rateLimit = new Option<uint?>("--rate-limit") { Description = "Byte budget asked of the relay, bytes/s (default: no limit); the relay drops least urgent packets beyond it." };
        var historyMs = new Option<uint>("--history-ms") { Description = "Milliseconds of history the relay should replay on acceptance.", DefaultValueFactory = _ => 0 };
        var json = new Option<string?>("--json") { Description = "Also write the report as JSON to FILE, or to stdout with '-' (the summary then goes to stderr)." };

        var command = new Command(Name, Description)
        {
            relay, channel, duration, rateLimit, historyMs, json,
        };
        command.SetAction((parse, cancellationToken) => ClientCommands.Guard(async () =>
        {
            var seconds = parse.GetValue(duration);
            if (seconds is { } s && !(s > 0)) throw new UserFacingException("--duration must be > 0 seconds");
            var options = new SubscriberOptions
            {
                Relay = ClientCommands.ResolveRelay(parse.GetValue(relay)!),
                Channel = parse.GetValue(channel),
                HistoryMs = parse.GetValue(historyMs),
                RateLimitBytesPerSecond = parse.GetValue(rateLimit) ?? CustomUdpWire.UnlimitedRate,
            };
            using var subscriber = new Subscriber(options);
            // SIGTERM ends the run like Ctrl+C: UNSUBSCRIBE, then the report (scenarios stop their subscribers this way).
            using var stop = StopSignals.Link(cancellationToken);
            var report = await subscriber.RunAsync(seconds is { } run ? TimeSpan.FromSeconds(run) : null, stop.Token);
            ClientCommands.Output(report.ToSummary(), report.ToJson(), parse.GetValue(json));
            if (!report.Subscribed)
                throw new UserFacingException($"the relay at {options.Relay} never accepted the subscription" +
                                              (report.Rejection is null ? " (no REPLY)" : $": {report.Rejection}"));
            return report.IntegrityErrors + report.WrongChannel > 0 ? CorruptionExitCode : 0;
        }));
        return SteadyStateRuntime.Mark(command); // carries traffic: tiered compilation off (docs/startup.md)
    }
}
