using System.Globalization;
using FastRelay.Cli.Bench.Moq.Floor;
using FastRelay.Cli.Lab;
using FastRelay.Protocols.Moq.Clients;

namespace FastRelay.Cli.Bench.Moq;

/// <summary>`fastrelay bench --profile moq`: turns the bench command's options into a <see cref="MoqBenchRunner"/> run
/// against a child `fastrelay moq relay` (two in compare mode), then the kernel floor (<see cref="MoqFloorRunner"/>, in the
/// bench's lab; in userspace mode, whose relay runs on loopback, in a lab of its own) unless --no-floor, prints the tables
/// and writes the JSON.</summary>
public static class MoqBenchCommand
{
    /// <param name="fanOuts">--subscribers, e.g. "1,4,16,64".</param>
    /// <param name="objectsPerSecond">--rate when given: objects per second of the measured track.</param>
    /// <param name="meanObjectBytes">--size when given: mean object size (the bit rate follows from it and the object rate).</param>
    /// <param name="windowSeconds">--duration when given: seconds of each measured window.</param>
    public const string Userspace = "userspace", FastPath = "fastpath", Compare = "compare";

    /// <param name="relayMode">userspace: the userspace relay on loopback (pinned to a CPU); fastpath: the relay with the
    /// QUIC kernel fast path in a lab (veths between namespaces, where TC attaches); compare: the userspace relay and
    /// then the fast-path one in the same lab, with the ratios.</param>
    /// <param name="noFloor">--no-floor: skip the kernel floor that otherwise follows the relay run(s).</param>
    /// <param name="labPrefix">--lab-prefix: name prefix of the bench's lab (default fr + random hex).</param>
    /// <param name="encrypted">--encrypted (compare mode only): the subscribers keep full 1-RTT protection in the userspace
    /// and the fast-path runs (the fast path seals their kernel copies), and a third run in the same lab measures the
    /// clear-text fast path (subscribers with 0xBAAD); the publisher offers the clear-text fast path in all three.</param>
    public static async Task<int> RunAsync(string fanOuts, double? objectsPerSecond, int? meanObjectBytes, double? windowSeconds, bool quick, bool noSweep, string? jsonFile,
        IMoqClientConnector connector, TextWriter output, CancellationToken cancellationToken, string relayMode = Userspace, bool noFloor = false, string? labPrefix = null,
        bool encrypted = false)
    {
        if (relayMode is not (Userspace or FastPath or Compare))
            throw new UserFacingException($"--relay-mode {relayMode}: expected {Userspace}, {FastPath} or {Compare}");
        if (encrypted && relayMode != Compare)
            throw new UserFacingException($"--encrypted measures three relays in one lab (the --relay-mode {Compare} runs plus the clear-text fast path): it cannot be combined with --relay-mode {relayMode}");
        var options = new MoqBenchOptions
        {
            FanOuts = fanOuts.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 256 ? n : throw new UserFacingException($"--subscribers: '{s}' is not a fan-out of 1..256"))
                .Distinct().Order().ToList(),
            RateSweep = !noSweep,
            KernelFloor = !noFloor,
            LabPrefix = labPrefix,
            JsonFile = jsonFile,
            Progress = line => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}"),
        };
        if (quick) options = MoqBenchOptions.Quick(options);
        if (objectsPerSecond is { } rate)
            options = rate is > 0 and <= 100_000 ? options with { ObjectsPerSecond = rate } : throw new UserFacingException("--rate must be 1..100000 objects/s for --profile moq");
        if (meanObjectBytes is { } bytes)
            options = bytes is >= 64 and <= 1 << 20
                ? options with { BitrateBitsPerSecond = (long)(options.ObjectsPerSecond * bytes * 8) }
                : throw new UserFacingException("--size must be 64..1048576 bytes (mean object size) for --profile moq");
        if (windowSeconds is { } seconds)
            options = seconds > 0 ? options with { DurationSeconds = seconds } : throw new UserFacingException("--duration must be > 0 seconds");

        string json;
        if (relayMode == Userspace)
        {
            var runner = new MoqBenchRunner(options, connector, async ct => await MoqRelayProcess.StartAsync(options.RelayArguments, options.RelayCpu, TimeSpan.FromSeconds(30), ct));
            var report = await runner.RunAsync(cancellationToken);
            // The userspace relay ran on loopback; the floor needs TC on veths, so it gets a lab of its own.
            var (floor, skipped) = await FloorInOwnLabAsync(options, cancellationToken);
            report = report with { Floor = floor, FloorSkipped = skipped };
            output.WriteLine(MoqBenchTable.Format(report));
            json = report.ToJson();
        }
        else
        {
            options.Progress?.Invoke("lab up: publisher, relay (2 interfaces), 1 subscriber host (every subscriber connection in it)");
            await using var lab = await LabTopology.UpAsync(LabFor(options), cancellationToken);
            var status = Directory.CreateTempSubdirectory("fastrelay-moq-bench-").FullName;
            try
            {
                var namespaced = new NamespacedMoqConnector(connector, lab.Publisher.Namespace, lab.Subscribers[0].Namespace);
                Task<MoqBenchReport> Run(bool fastPath, bool encryptedSubscribers = false) =>
                    new MoqBenchRunner(options, namespaced, async ct => await LabMoqBenchRelay.StartAsync(lab, fastPath, status, ct, encryptedSubscribers)).RunAsync(cancellationToken);
                if (relayMode == FastPath)
                {
                    var report = await Run(fastPath: true);
                    var (floor, skipped) = await FloorAsync(options, lab, cancellationToken);
                    report = report with { Floor = floor, FloorSkipped = skipped };
                    output.WriteLine(MoqBenchTable.Format(report));
                    json = report.ToJson();
                }
                else
                {
                    // --encrypted: the same two runs with encrypted subscribers, then the clear-text fast path as the plain mode's.
                    var userspace = await Run(fastPath: false, encrypted);
                    var fastPath = await Run(fastPath: true, encrypted);
                    var clearText = encrypted ? await Run(fastPath: true) : null;
                    var (floor, skipped) = await FloorAsync(options, lab, cancellationToken);
                    var comparison = MoqBenchComparison.From(userspace, fastPath, floor, skipped, clearText);
                    output.WriteLine(comparison.Format());
                    json = comparison.ToJson();
                }
            }
            finally
            {
                Directory.Delete(status, recursive: true);
            }
        }
        if (jsonFile is not null)
        {
            try { await File.WriteAllTextAsync(jsonFile, json, cancellationToken); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new UserFacingException($"--json {jsonFile}: {e.Message}", e); }
        }
        return 0;
    }

    private static LabOptions LabFor(MoqBenchOptions options) => new() { Prefix = options.LabPrefix, Subscribers = 1, RelayInterfaces = 2 };

    /// <summary>The kernel floor in the bench's lab, after the relay run(s) there (their relays are gone by then), or why not.</summary>
    private static async Task<(MoqFloorReport? Floor, string? Skipped)> FloorAsync(MoqBenchOptions options, LabNetwork lab, CancellationToken cancellationToken)
    {
        if (!options.KernelFloor) return (null, "--no-floor");
        try
        {
            return (await new MoqFloorRunner(options).RunAsync(lab, cancellationToken), null);
        }
        catch (Exception e) when (e is FastRelay.Bpf.BpfException or UserFacingException)
        {
            options.Progress?.Invoke($"kernel floor not measured: {e.Message}");
            return (null, e.Message);
        }
    }

    private static async Task<(MoqFloorReport? Floor, string? Skipped)> FloorInOwnLabAsync(MoqBenchOptions options, CancellationToken cancellationToken)
    {
        if (!options.KernelFloor) return (null, "--no-floor");
        LabNetwork lab;
        try
        {
            options.Progress?.Invoke("lab up for the kernel floor: publisher, relay (2 interfaces), 1 subscriber host");
            lab = await LabTopology.UpAsync(LabFor(options), cancellationToken);
        }
        catch (Exception e) when (e is UserFacingException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            options.Progress?.Invoke($"kernel floor not measured: no lab ({e.Message})");
            return (null, "no lab: " + e.Message);
        }
        await using (lab) return await FloorAsync(options, lab, cancellationToken);
    }
}
