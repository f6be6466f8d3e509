using System.CommandLine;
using System.Text.Json;
using FastRelay.Cli.Fuzz;
using FastRelay.Cli.Gen;
using FastRelay.Generated;

namespace FastRelay.Cli.Commands;

/// <summary>`fastrelay fuzz bpf`: every program of every selected descriptor through BPF_PROG_TEST_RUN against the reference
/// model (cli/Fuzz); exit 0 only when nothing differed.</summary>
public static class FuzzCommand
{
    /// <summary>The name and the description are constants so that CliRoot can list this command without building
    /// it (a command line names one top-level command; only that one is built, docs/startup.md).</summary>
    public const string Name = "fuzz";

    public const string Description = "Fuzz the kernel programs against the reference model.";

    /// <summary>Exit code when the kernel and the model disagreed at least once.</summary>
    public const int MismatchExitCode = 3;

    public static Command Create()
    {
        var profiles = new Option<string[]>("--descriptor", "-d")
        {
            Description = $"Bundled descriptor to fuzz ({string.Join(", ", ProtocolCatalog.Bundled.Keys)}); repeatable. Default: every bundled one when no --assembly is given.",
            AllowMultipleArgumentsPerToken = true,
        };
        var assemblies = new Option<string[]>("--assembly", "-a") { Description = "Built assembly holding [FastRelayProtocol] descriptors (all of them are fuzzed); repeatable." };
        var packets = new Option<int>("--packets", "-n") { Description = "Packets per program.", DefaultValueFactory = _ => 100_000 };
        var seed = new Option<int>("--seed", "-s") { Description = "Seed of packets and map setups: the same seed replays the same run.", DefaultValueFactory = _ => 1 };
        var programs = new Option<string[]>("--program") { Description = $"Only these programs ({string.Join(", ", BpfFuzzer.AllPrograms)}); repeatable." };
        var repro = new Option<string>("--repro-dir") { Description = "Where reproducers of the first mismatches go.", DefaultValueFactory = _ => "fuzz-bpf-repro" };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var templates = new Option<string>("--templates") { Description = "bpf-templates directory.", DefaultValueFactory = _ => GenPipeline.DefaultTemplatesDir };

        var bpf = new Command("bpf", "Drive every generated TC program through BPF_PROG_TEST_RUN with random and mutated packets and compare each run with the reference model.")
        {
            profiles, assemblies, packets, seed, programs, repro, json, templates,
        };
        bpf.SetAction(async (parse, cancellationToken) =>
        {
            var selected = new List<GeneratedProtocol>();
            foreach (var assembly in parse.GetValue(assemblies) ?? [])
                selected.AddRange(ProtocolCatalog.FromAssembly(assembly));
            var names = parse.GetValue(profiles) ?? [];
            if (names.Length == 0 && selected.Count == 0)
                names = ProtocolCatalog.Bundled.Keys.ToArray();
            selected.AddRange(names.Select(ProtocolCatalog.Profile));
            var chosen = parse.GetValue(programs) is { Length: > 0 } p ? p : null;
            foreach (var name in chosen ?? [])
                if (!BpfFuzzer.AllPrograms.Contains(name))
                    throw new UserFacingException($"unknown program '{name}'; programs: {string.Join(", ", BpfFuzzer.AllPrograms)}");
            if (parse.GetValue(packets) < 1)
                throw new UserFacingException("--packets must be at least 1");
            RequireRoot();

            var options = new BpfFuzzOptions
            {
                PacketsPerProgram = parse.GetValue(packets),
                Seed = parse.GetValue(seed),
                ReproducerDirectory = parse.GetValue(repro)!,
                TemplatesDirectory = parse.GetValue(templates),
                Programs = chosen,
            };
            // Ctrl+C / SIGTERM end the run through its token, so the veth and the objects are removed on the way out.
            using var stop = StopSignals.Link(cancellationToken);
            try
            {
                return await RunAsync(selected, options, parse.GetValue(json), Console.Out, Console.Error, stop.Token);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                Console.Error.WriteLine("fastrelay: fuzz bpf interrupted");
                return 130;
            }
        });
        return new Command(Name, Description) { bpf };
    }

    /// <summary>Fuzzes <paramref name="protocols"/>, prints the report (a table, or JSON) and returns the exit code: 0 when the
    /// kernel and the model agreed on every packet, <see cref="MismatchExitCode"/> otherwise.</summary>
    public static async Task<int> RunAsync(IReadOnlyList<GeneratedProtocol> protocols, BpfFuzzOptions options, bool json, TextWriter output,
        TextWriter log, CancellationToken cancellationToken)
    {
        var report = await new BpfFuzzer(options, json ? TextWriter.Null : log).RunAsync(protocols, cancellationToken);
        if (json)
            output.WriteLine(JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
        else
            report.Print(output);
        return report.Mismatches == 0 ? 0 : MismatchExitCode;
    }

    /// <summary>BPF_PROG_TEST_RUN, loading programs and creating the veth need CAP_BPF / CAP_NET_ADMIN: say so up front
    /// rather than failing half-way with EPERM.</summary>
    private static void RequireRoot()
    {
        var status = File.ReadAllText("/proc/self/status");
        var line = status.Split('\n').FirstOrDefault(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
        var caps = line is null ? 0UL : Convert.ToUInt64(line["CapEff:".Length..].Trim(), 16);
        const int capNetAdmin = 12, capSysAdmin = 21, capBpf = 39;
        var hasBpf = (caps & (1UL << capBpf)) != 0 || (caps & (1UL << capSysAdmin)) != 0;
        if (!hasBpf || (caps & (1UL << capNetAdmin)) == 0)
            throw new UserFacingException("fuzz bpf needs root, or CAP_BPF (or CAP_SYS_ADMIN) and CAP_NET_ADMIN: it loads the programs, runs them with BPF_PROG_TEST_RUN and creates a veth");
    }
}
