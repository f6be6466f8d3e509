using System.CommandLine;
using System.Net.Sockets;
using System.Text.Json;
using FastRelay.Cli.Relay;
using FastRelay.Cli.Scenario;
using FastRelay.Cli.Startup;

namespace FastRelay.Cli.Commands;

/// <summary>`fastrelay demo [moq|custom-udp]`: a lab, a relay, a publisher and three subscribers for a few seconds, then
/// a readable summary (or JSON). The default is the flagship: the MoQ relay with the QUIC kernel fast path; the
/// custom-UDP relay's demo is there by name. The lab is removed afterwards, also on failure.</summary>
public static class DemoCommand
{
    /// <summary>The name and the description are constants so that CliRoot can list this command without building
    /// it (a command line names one top-level command; only that one is built, docs/startup.md).</summary>
    public const string Name = "demo";

    public const string Description = "Build a lab, relay a live stream to 3 subscribers, print what each received.";

    public const string Moq = "moq";
    public const string CustomUdp = "custom-udp";

    /// <summary>The command's argument; also on the command's entry in the root's listing (CliRoot), which shows it.</summary>
    public static Argument<string> CreateProfileArgument()
    {
        var profile = new Argument<string>("profile")
        {
            Description = $"{Moq} (default): publisher → MoQ relay with the QUIC kernel fast path → 3 subscribers; {CustomUdp}: the custom-UDP relay.",
            DefaultValueFactory = _ => Moq,
        };
        profile.AcceptOnlyFromAmong(Moq, CustomUdp);
        return profile;
    }

    public static Command Create()
    {
        var profile = CreateProfileArgument();
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON (non-interactive)." };
        var duration = new Option<double?>("--duration", "-d") { Description = "Seconds of streaming (default: moq 6, custom-udp 3)." };
        var mode = new Option<RelayMode>("--mode", "-m") { Description = "FastPath or Userspace.", DefaultValueFactory = _ => RelayMode.FastPath };
        var rate = new Option<int?>("--rate") { Description = "moq: objects (frames) per second (default 30); custom-udp: packets per second (default 1000)." };
        var command = new Command(Name, Description) { profile, json, duration, mode, rate };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var asJson = parse.GetValue(json);
            Action<string>? progress = asJson ? null : line => Console.WriteLine("  " + line);
            return parse.GetValue(profile) == CustomUdp
                ? await RunCustomUdpAsync(asJson, DemoMode(parse.GetValue(mode)), parse.GetValue(duration) ?? 3, parse.GetValue(rate) ?? 1000, progress, cancellationToken)
                : await RunMoqAsync(asJson, DemoMode(parse.GetValue(mode)), parse.GetValue(duration) ?? 6, parse.GetValue(rate) ?? 30, progress, cancellationToken);
        });
        return SteadyStateRuntime.Mark(command); // carries traffic: tiered compilation off (docs/startup.md)
    }

    /// <summary>The demo builds its own lab, where the fast path always runs: "auto" would only hide a broken one.</summary>
    private static RelayMode DemoMode(RelayMode mode) => mode == RelayMode.Auto
        ? throw new UserFacingException("--mode auto: the demo runs in a lab of its own, where the fast path always works; pass FastPath or Userspace")
        : mode;

    private static async Task<int> RunMoqAsync(bool asJson, RelayMode mode, double duration, int fps, Action<string>? progress, CancellationToken cancellationToken)
    {
        if (!(duration > 0) || fps <= 0) throw new UserFacingException("--duration and --rate must be > 0");
        var options = new MoqDemoOptions
        {
            Mode = mode,
            DurationSeconds = duration,
            FramesPerSecond = fps,
            // Two subscribers over IPv4 and one over IPv6, all offering the fast path; the publisher reaches the relay
            // over IPv4, so the IPv6 subscriber's copies are translated in TC.
            Subscribers = [new(0, AddressFamily.InterNetwork), new(1, AddressFamily.InterNetwork), new(2, AddressFamily.InterNetworkV6)],
            Progress = progress,
        };
        if (!asJson)
            Console.WriteLine($"FastRelay demo: Media over QUIC, relay {(mode == RelayMode.FastPath ? "with the QUIC kernel fast path" : "in userspace")}, " +
                              $"1 publisher (IPv4) → 3 subscribers (IPv4, IPv4, IPv6), {duration:0.#} s at {fps} objects/s");
        var summary = MoqDemoSummary.From(await MoqDemoScenario.RunAsync(options, cancellationToken));
        Console.WriteLine(asJson ? JsonSerializer.Serialize(summary, MoqDemoSummary.JsonOptions) : summary.ToText());
        return summary.AllReceivedEverything ? 0 : 2;
    }

    private static async Task<int> RunCustomUdpAsync(bool asJson, RelayMode mode, double duration, int rate, Action<string>? progress, CancellationToken cancellationToken)
    {
        var options = new ScenarioOptions
        {
            Mode = mode,
            DurationSeconds = duration,
            // Channel 1 over IPv4 to two subscribers, channel 2 over IPv6 to the third: both families end to end.
            Publishers =
            [
                new ScenarioPublisher(Channel: 1, RatePps: rate),
                new ScenarioPublisher(Channel: 2, AddressFamily.InterNetworkV6, RatePps: rate),
            ],
            Subscribers =
            [
                new ScenarioSubscriber(0, 1),
                new ScenarioSubscriber(1, 1),
                new ScenarioSubscriber(2, 2, AddressFamily.InterNetworkV6),
            ],
            Progress = progress,
        };
        if (!asJson)
            Console.WriteLine($"FastRelay demo: custom-udp, {options.Mode}, 2 publishers (IPv4, IPv6) → 3 subscribers, {options.DurationSeconds:0.#} s at {rate} pps");
        var summary = DemoSummary.From(await RelayScenario.RunAsync(options, cancellationToken));
        Console.WriteLine(asJson ? JsonSerializer.Serialize(summary, DemoSummary.JsonOptions) : summary.ToText());
        return summary.AllReceivedEverything ? 0 : 2;
    }
}
