using System.Text.RegularExpressions;

namespace FastRelay.Bpf;

/// <summary>
/// Asks the kernel verifier about every program of an object separately: for each program the object is opened
/// afresh with only that program set to autoload, so one rejected program cannot hide the others' verdicts.
/// Maps are created for each attempt and released with it; nothing is attached or pinned.
/// </summary>
public static partial class ProgramVerifier
{
    public static IReadOnlyList<ProgramVerdict> VerifyObject(string path, BpfObjectOptions? options = null)
    {
        List<(string Name, string Section)> programs;
        using (var probe = BpfObject.Open(path, options))
            programs = probe.Programs.Select(p => (p.Name, p.SectionName)).ToList();

        var verdicts = new List<ProgramVerdict>(programs.Count);
        foreach (var (name, section) in programs)
            verdicts.Add(VerifyOne(path, options, name, section));
        return verdicts;
    }

    private static ProgramVerdict VerifyOne(string path, BpfObjectOptions? options, string name, string section)
    {
        // Programs a statically initialised program array names (a tail call's target, e.g. fr_subscriber_egress_seal)
        // must be loaded too, or libbpf cannot fill the array and refuses the whole object: added one by one as libbpf
        // names them, a bounded number of times.
        var companions = new HashSet<string>();
        for (int attempt = 0; ; attempt++)
        {
            using var obj = BpfObject.Open(path, options);
            foreach (var p in obj.Programs) p.Autoload = p.Name == name || companions.Contains(p.Name);
            try
            {
                obj.Load();
                var program = obj.Program(name);
                var info = program.GetInfo();
                return new ProgramVerdict(name, section, true, info.Instructions, info.VerifiedInstructions, program.VerifierLog, null);
            }
            catch (BpfLoadException e) when (e.ProgramName == name || !companions.Contains(e.ProgramName))
            {
                return new ProgramVerdict(name, section, false, null, ProcessedInstructions(e.VerifierLog), e.VerifierLog, e.Message);
            }
            catch (BpfLoadException e)
            {
                return new ProgramVerdict(name, section, false, null, null, null, $"its tail-call target '{e.ProgramName}' was rejected: {e.Message}");
            }
            catch (BpfException e) when (attempt < 8 && ProgramArrayTarget().Match(e.Message) is { Success: true } m && companions.Add(m.Groups[1].Value))
            {
                // Try again with that program loaded as well.
            }
            catch (BpfException e)
            {
                // Failed before the verifier ran (map creation, relocation): no log, but the reason.
                return new ProgramVerdict(name, section, false, null, null, null, e.Message);
            }
        }
    }

    /// <summary>libbpf's warning when a program array's initial slot names a program that was not loaded.</summary>
    [GeneratedRegex(@"failed to initialize slot \[\d+\] to prog '([^']+)'")]
    private static partial Regex ProgramArrayTarget();

    [GeneratedRegex(@"processed (\d+) insns")]
    private static partial Regex Processed();

    private static int? ProcessedInstructions(string log)
    {
        var m = Processed().Match(log);
        return m.Success ? int.Parse(m.Groups[1].Value) : null;
    }
}

/// <param name="Instructions">Instructions of the loaded program (after verifier rewrites); null when rejected.</param>
/// <param name="VerifiedInstructions">Instructions the verifier processed across all paths (kernel info, or the
/// "processed N insns" line of a rejection log).</param>
/// <param name="VerifierLog">The verifier log: always for a rejection, for acceptance only with a log level set.</param>
/// <param name="Error">Why the program did not load, when it did not.</param>
public sealed record ProgramVerdict(
    string Name, string SectionName, bool Accepted, int? Instructions, int? VerifiedInstructions, string? VerifierLog, string? Error);
