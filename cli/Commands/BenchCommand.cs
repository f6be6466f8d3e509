using System.CommandLine;
using FastRelay.Cli.Bench;
using FastRelay.Cli.Bench.Moq;
using FastRelay.Cli.Startup;

namespace FastRelay.Cli.Commands;

/// <summary>`fastrelay bench`: the same paced stream through the kernel floor, the fast path, the userspace relay and a
/// C reference relay, in one run; medians, ratios, JSON and plots.</summary>
public static class BenchCommand
{
    /// <summary>The name and the description are constants so that CliRoot can list this command without building
    /// it (a command line names one top-level command; only that one is built, docs/startup.md).</summary>
    public const string Name = "bench";

    public const string Description = "Measure the fast path against the kernel floor, the userspace relay and a C reference relay.";

    public static Command Create()
    {
        var profile = new Option<string>("--profile") { Description = "Profile: custom-udp (kernel floor, fast path, userspace and C relays in a lab) or moq (the MoQ relay: latency and relay CPU per delivered object and byte; see --relay-mode).", DefaultValueFactory = _ => "custom-udp" };
        var subscribers = new Option<string>("--subscribers") { Description = "Fan-outs to measure, comma-separated.", DefaultValueFactory = _ => "1,4,16,64" };
        var rate = new Option<int>("--rate") { Description = "Packets per second (moq: objects per second, default 100).", DefaultValueFactory = _ => 2000 };
        var size = new Option<int>("--size") { Description = "Datagram size in bytes (header included; moq: mean object size, default 2500).", DefaultValueFactory = _ => 256 };
        var duration = new Option<double>("--duration") { Description = "Seconds per run (moq: of each measured window, default 5).", DefaultValueFactory = _ => 5 };
        var repetitions = new Option<int>("--repetitions") { Description = "Runs per configuration (the median is reported).", DefaultValueFactory = _ => 3 };
        var json = new Option<string?>("--json") { Description = "Write every figure as JSON to this file." };
        var outDir = new Option<string?>("--out") { Description = "Directory for report.json and the SVG plots." };
        var quick = new Option<bool>("--quick") { Description = "A smoke run: fan-outs 1 and 4, one short run each, no rate sweep (under a minute)." };
        var noSweep = new Option<bool>("--no-sweep") { Description = "Skip the search for the highest loss-free rate." };
        var render = new Option<string?>("--markdown-from") { Description = "Print an earlier report.json as Markdown tables (for docs/benchmarks.md) and exit." };
        var relayMode = new Option<string>("--relay-mode")
        {
            Description = "moq: userspace (the userspace relay on loopback), fastpath (the relay with the QUIC kernel fast path, in a lab) or compare (both in the same lab, with the ratios).",
            DefaultValueFactory = _ => "userspace",
        };
        relayMode.AcceptOnlyFromAmong("userspace", "fastpath", "compare");
        var noFloor = new Option<bool>("--no-floor") { Description = "moq: skip the kernel floor (clone_floor.bpf.c fanning the same track out to UDP receivers, no relay process) that otherwise follows the relay run(s)." };
        var labPrefix = new Option<string?>("--lab-prefix") { Description = "moq: name prefix of the bench's lab namespaces and devices (default fr + 4 random hex digits)." };
        var encrypted = new Option<bool>("--encrypted")
        {
            Description = "moq: subscribers with full 1-RTT protection (no 0xBAAD): the userspace relay and the fast-path relay, which seals each kernel copy with its subscriber's keys, then the clear-text fast path, all in one lab (implies --relay-mode compare); the publisher offers the clear-text fast path.",
        };
        var busyPoll = new Option<bool?>("--busy-poll") { Description = "Measuring receivers spin instead of blocking (default: only with 4 or more CPUs)." };
        var command = new Command(Name, Description)
        {
            profile, subscribers, rate, size, duration, repetitions, json, outDir, quick, noSweep, busyPoll, render, relayMode, noFloor, labPrefix, encrypted,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(render) is { } reportFile)
            {
                var earlier = System.Text.Json.JsonSerializer.Deserialize<BenchReport>(await File.ReadAllTextAsync(reportFile, cancellationToken), BenchReport.Json)
                    ?? throw new UserFacingException($"{reportFile} is not a bench report");
                Console.WriteLine(BenchTable.Format(earlier, markdown: true));
                return 0;
            }
            if (string.Equals(parse.GetValue(profile), "moq", StringComparison.OrdinalIgnoreCase))
                return await MoqBenchCommand.RunAsync(parse.GetValue(subscribers)!, parse.GetResult(rate) is { Implicit: false } ? parse.GetValue(rate) : null,
                    parse.GetResult(size) is { Implicit: false } ? parse.GetValue(size) : null,
                    parse.GetResult(duration) is { Implicit: false } ? parse.GetValue(duration) : null, parse.GetValue(quick), parse.GetValue(noSweep),
                    parse.GetValue(json), MoqCommand.DefaultConnector(), Console.Out, cancellationToken,
                    // --encrypted runs the compare mode's relays (and a third): it picks that mode unless another was named.
                    parse.GetValue(encrypted) && parse.GetResult(relayMode) is null or { Implicit: true } ? MoqBenchCommand.Compare : parse.GetValue(relayMode)!,
                    parse.GetValue(noFloor), parse.GetValue(labPrefix), parse.GetValue(encrypted));
            if (parse.GetValue(encrypted))
                throw new UserFacingException("--encrypted belongs to --profile moq (encrypted MoQ subscribers on the QUIC fast path)");
            if (!string.Equals(parse.GetValue(profile), "custom-udp", StringComparison.OrdinalIgnoreCase))
                throw new UserFacingException("bench supports the custom-udp and moq profiles");
            var fanOuts = parse.GetValue(subscribers)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => int.TryParse(s, out var n) && n is >= 1 and <= 64 ? n : throw new UserFacingException($"--subscribers: '{s}' is not a fan-out of 1..64"))
                .Distinct().Order().ToList();
            var options = new BenchOptions
            {
                FanOuts = fanOuts,
                RatePps = parse.GetValue(rate),
                PacketSize = parse.GetValue(size),
                DurationSeconds = parse.GetValue(duration),
                Repetitions = Math.Max(1, parse.GetValue(repetitions)),
                RateSweep = !parse.GetValue(noSweep),

                JsonFile = parse.GetValue(json),
                OutDir = parse.GetValue(outDir),
                Progress = line => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}"),
            };
            if (parse.GetValue(busyPoll) is { } spin)
                options = options with { BusyPoll = spin };
            if (parse.GetValue(quick))
                options = BenchOptions.Quick(options);
            var report = await new BenchRunner(options).RunAsync(cancellationToken);
            Console.WriteLine(BenchTable.Format(report));
            if (options.JsonFile is { } file)
                await File.WriteAllTextAsync(file, report.ToJson(), cancellationToken);
            return 0;
        });
        return SteadyStateRuntime.Mark(command); // carries traffic: tiered compilation off (docs/startup.md)
    }
}
