namespace FastRelay.Cli.Fuzz;

/// <summary>What one program of one protocol went through: packets, verdicts, the model's branches, mismatches.</summary>
public sealed class ProgramFuzzCounts
{
    public required string Protocol { get; init; }
    public required string Program { get; init; }
    public long Packets { get; set; }
    public long Rounds { get; set; }
    public long Mismatches { get; set; }
    /// <summary>Frames the kernel's test run itself refuses (shorter than an Ethernet header): expected, not run.</summary>
    public long RefusedByTestRun { get; set; }
    public SortedDictionary<string, long> Verdicts { get; } = [];
    public SortedDictionary<string, long> Branches { get; } = [];
    /// <summary>fr_stats at the end of the run (non-zero members): which counted paths of the programs the run went through.</summary>
    public SortedDictionary<string, ulong> KernelCounters { get; } = [];
    public List<string> Reproducers { get; } = [];
    public List<string> FirstDifferences { get; } = [];
    public double Seconds { get; set; }
}

public sealed class BpfFuzzReport
{
    public required int Seed { get; init; }
    public required int PacketsPerProgram { get; init; }
    public List<ProgramFuzzCounts> Programs { get; } = [];
    public long Mismatches => Programs.Sum(p => p.Mismatches);
    public long Packets => Programs.Sum(p => p.Packets);

    public void Print(TextWriter output)
    {
        output.WriteLine($"{"protocol",-16} {"program",-22} {"packets",9} {"OK",8} {"SHOT",8} {"UNSPEC",8} {"mismatch",8} {"s",7}");
        foreach (var p in Programs)
            output.WriteLine($"{p.Protocol,-16} {p.Program,-22} {p.Packets,9} {p.Verdicts.GetValueOrDefault("OK"),8} {p.Verdicts.GetValueOrDefault("SHOT"),8} " +
                             $"{p.Verdicts.GetValueOrDefault("UNSPEC"),8} {p.Mismatches,8} {p.Seconds,7:0.0}");
        foreach (var p in Programs.Where(p => p.Mismatches > 0))
        {
            output.WriteLine($"{p.Protocol} {p.Program}: {p.Mismatches} mismatch(es); first:");
            foreach (var d in p.FirstDifferences)
                output.WriteLine("  " + d);
            foreach (var r in p.Reproducers)
                output.WriteLine("  reproducer: " + r);
        }
        output.WriteLine(Mismatches == 0
            ? $"0 mismatches over {Packets} packets (seed {Seed})"
            : $"{Mismatches} mismatch(es) over {Packets} packets (seed {Seed})");
    }
}
