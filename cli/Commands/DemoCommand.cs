using System.CommandLine;
using System.Net.Sockets;
using System.Text.Json;
using FastRelay.Cli.Relay;
using FastRelay.Cli.Scenario;

namespace FastRelay.Cli.Commands;

/// <summary>`fastrelay demo`: a lab, a fast-path relay, one publisher and three subscribers for a few seconds, then a
/// readable summary (or JSON). The lab is removed afterwards, also on failure.</summary>
public static class DemoCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON (non-interactive)." };
        var duration = new Option<double>("--duration", "-d") { Description = "Seconds of streaming.", DefaultValueFactory = _ => 3 };
        var mode = new Option<RelayMode>("--mode", "-m") { Description = "FastPath or Userspace.", DefaultValueFactory = _ => RelayMode.FastPath };
        var rate = new Option<int>("--rate") { Description = "Packets per second.", DefaultValueFactory = _ => 1000 };
        var command = new Command("demo", "Build a lab, relay a live stream to 3 subscribers, print what each received.") { json, duration, mode, rate };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var asJson = parse.GetValue(json);
            var options = new ScenarioOptions
            {
                Mode = parse.GetValue(mode),
                DurationSeconds = parse.GetValue(duration),
                // Channel 1 over IPv4 to two subscribers, channel 2 over IPv6 to the third: every copy is made in the kernel
                // (an IPv4 packet cannot become an IPv6 one in place, so families are not mixed within a channel here).
                Publishers =
                [
                    new ScenarioPublisher(Channel: 1, RatePps: parse.GetValue(rate)),
                    new ScenarioPublisher(Channel: 2, AddressFamily.InterNetworkV6, RatePps: parse.GetValue(rate)),
                ],
                Subscribers =
                [
                    new ScenarioSubscriber(0, 1),
                    new ScenarioSubscriber(1, 1),
                    new ScenarioSubscriber(2, 2, AddressFamily.InterNetworkV6),
                ],
                Progress = asJson ? null : line => Console.WriteLine("  " + line),
            };
            if (!asJson)
                Console.WriteLine($"FastRelay demo: custom-udp, {options.Mode}, 2 publishers (IPv4, IPv6) → 3 subscribers, {options.DurationSeconds:0.#} s at {parse.GetValue(rate)} pps");
            var result = await RelayScenario.RunAsync(options, cancellationToken);
            var summary = DemoSummary.From(result);
            Console.WriteLine(asJson ? JsonSerializer.Serialize(summary, DemoSummary.JsonOptions) : summary.ToText());
            return summary.AllReceivedEverything ? 0 : 2;
        });
        return command;
    }
}
