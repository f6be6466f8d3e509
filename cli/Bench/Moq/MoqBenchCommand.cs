using System.Globalization;
using FastRelay.Protocols.Moq.Clients;

namespace FastRelay.Cli.Bench.Moq;

/// <summary>`fastrelay bench --profile moq`: turns the bench command's options into a <see cref="MoqBenchRunner"/> run
/// against a child `fastrelay moq relay`, prints the table and writes the JSON.</summary>
public static class MoqBenchCommand
{
    /// <param name="fanOuts">--subscribers, e.g. "1,4,16,64".</param>
    /// <param name="objectsPerSecond">--rate when given: objects per second of the measured track.</param>
    /// <param name="meanObjectBytes">--size when given: mean object size (the bit rate follows from it and the object rate).</param>
    /// <param name="windowSeconds">--duration when given: seconds of each measured window.</param>
    public static async Task<int> RunAsync(string fanOuts, double? objectsPerSecond, int? meanObjectBytes, double? windowSeconds, bool quick, bool noSweep, string? jsonFile,
        IMoqClientConnector connector, TextWriter output, CancellationToken cancellationToken)
    {
        var options = new MoqBenchOptions
        {
            FanOuts = fanOuts.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 256 ? n : throw new UserFacingException($"--subscribers: '{s}' is not a fan-out of 1..256"))
                .Distinct().Order().ToList(),
            RateSweep = !noSweep,
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

        var runner = new MoqBenchRunner(options, connector, async ct => await MoqRelayProcess.StartAsync(options.RelayArguments, options.RelayCpu, TimeSpan.FromSeconds(30), ct));
        var report = await runner.RunAsync(cancellationToken);
        output.WriteLine(MoqBenchTable.Format(report));
        if (jsonFile is not null)
        {
            try { await File.WriteAllTextAsync(jsonFile, report.ToJson(), cancellationToken); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new UserFacingException($"--json {jsonFile}: {e.Message}", e); }
        }
        return 0;
    }
}
