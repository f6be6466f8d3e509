using System.Text.Json.Nodes;
using FastRelay.Cli.Commands;
using FastRelay.Cli.Fuzz;
using FastRelay.Cli.Fuzz.Model;
using FastRelay.Cli.Gen;
using FastRelay.Examples.Rtp;
using FastRelay.Generated;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.FuzzBpf;

/// <summary>
/// `fastrelay fuzz bpf` in short: every program of every bundled and test descriptor against the reference model, a few
/// thousand packets each (the full run's figures are in docs/fuzzing.md); and proof that a divergence on either side, a
/// kernel program built with a planted bug or a model that expects something else, is reported with a reproducer.
/// </summary>
public sealed class BpfFuzzTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrelay-fuzzbpf-").FullName;

    public static IReadOnlyList<GeneratedProtocol> Descriptors { get; } =
    [
        ProtocolCatalog.Profile("custom-udp"),
        ProtocolCatalog.Profile("quic"),
        SampleProtocol.TickHeaderFastPath.Protocol,
        RtpHeaderFastPath.Protocol,
        RtpRenumberedHeaderFastPath.Protocol,
    ];

    public static TheoryData<string> DescriptorNames => new(Descriptors.Select(d => d.Name));

    private BpfFuzzOptions Options(int packets, string? templates = null, IReadOnlyList<string>? programs = null) => new()
    {
        PacketsPerProgram = packets,
        Seed = 2026,
        PacketsPerRound = 250,
        ReproducerDirectory = Path.Combine(_dir, "repro"),
        TemplatesDirectory = templates ?? RepoPaths.BpfTemplates,
        Programs = programs,
    };

    [BpfTheory]
    [MemberData(nameof(DescriptorNames))]
    public async Task A_short_run_finds_the_kernel_programs_and_the_model_in_agreement(string name)
    {
        var report = await new BpfFuzzer(Options(3000), TextWriter.Null).RunAsync([Descriptors.Single(d => d.Name == name)], default);

        Assert.True(report.Mismatches == 0, string.Join("\n", report.Programs.SelectMany(p => p.FirstDifferences)));
        Assert.Equal(BpfFuzzer.AllPrograms, report.Programs.Select(p => p.Program));
        Assert.All(report.Programs, p => Assert.Equal(3000, p.Packets));
        // The run went where it matters, not only into "not mine": copies fanned out, rewritten, stack packets registered,
        // subscribers counted, and packets refused on the way for their headers.
        var upstream = report.Programs[0];
        var egress = report.Programs[1];
        var ingress = report.Programs[2];
        Assert.True(upstream.Verdicts.GetValueOrDefault("OK") + upstream.Verdicts.GetValueOrDefault("SHOT") > 50, Mix(upstream));
        Assert.True(upstream.Branches.GetValueOrDefault("truncated") > 0, Mix(upstream));
        Assert.True(egress.Branches.Where(b => b.Key.StartsWith("forwarded", StringComparison.Ordinal)).Sum(b => b.Value) > 20, Mix(egress));
        Assert.True(egress.Branches.Where(b => b.Key.StartsWith("stack packet, numbered", StringComparison.Ordinal) || b.Key == "stack packet, registered")
            .Sum(b => b.Value) > 20, Mix(egress));
        Assert.True(egress.Branches.GetValueOrDefault("clone, wrong channel") > 0, Mix(egress));
        Assert.True(ingress.Branches.GetValueOrDefault("known subscriber") > 100, Mix(ingress));
    }

    [BpfFact]
    public async Task A_kernel_program_built_with_a_planted_bug_fails_the_command_with_a_reproducer()
    {
        // The templates as they are, except that copies leave with TTL 63: what a subtle rewrite bug looks like.
        var planted = Path.Combine(_dir, "templates");
        CopyTree(RepoPaths.BpfTemplates, planted);
        var rewrite = Path.Combine(planted, "include", "fr_rewrite.h");
        var text = File.ReadAllText(rewrite);
        Assert.Contains("#define FR_COPY_TTL 64", text);
        File.WriteAllText(rewrite, text.Replace("#define FR_COPY_TTL 64", "#define FR_COPY_TTL 63"));
        var output = new StringWriter();

        var exit = await FuzzCommand.RunAsync([ProtocolCatalog.Profile("custom-udp")],
            Options(3000, planted, [BpfFuzzer.SubscriberEgress]), json: false, output, TextWriter.Null, default);

        Assert.Equal(FuzzCommand.MismatchExitCode, exit);
        var report = output.ToString();
        Assert.Contains("output differs at byte", report);
        Assert.Matches(@"custom_udp\s+fr_subscriber_egress\s+3000\s+\d+\s+\d+\s+\d+\s+[1-9]\d*", report);
        var reproducer = Directory.GetFiles(Path.Combine(_dir, "repro"), "custom_udp-fr_subscriber_egress-*.json").Order().First();
        var json = JsonNode.Parse(File.ReadAllText(reproducer))!;
        Assert.Equal("fr_subscriber_egress", (string?)json["program"]);
        Assert.NotEmpty((string?)json["frame"] ?? "");
        Assert.NotNull(json["setup"]?["fr_subscribers"]);
        Assert.Contains(json["differences"]!.AsArray(), d => ((string?)d)!.Contains("output differs", StringComparison.Ordinal));
    }

    [BpfFact]
    public async Task A_model_that_expects_other_copies_is_reported_and_the_programs_it_does_not_touch_still_agree()
    {
        var options = Options(2000) with { Model = (rules, state) => new TtlOffByOneModel(rules, state) };

        var report = await new BpfFuzzer(options, TextWriter.Null).RunAsync([ProtocolCatalog.Profile("quic")], default);

        var egress = report.Programs.Single(p => p.Program == BpfFuzzer.SubscriberEgress);
        Assert.True(egress.Mismatches > 0);
        Assert.Contains(egress.FirstDifferences, d => d.Contains("output differs", StringComparison.Ordinal));
        Assert.NotEmpty(egress.Reproducers);
        Assert.All(report.Programs.Where(p => p.Program != BpfFuzzer.SubscriberEgress), p => Assert.Equal(0, p.Mismatches));
    }

    /// <summary>The same seed replays the same packets and setups: the figures of two runs are identical.</summary>
    [BpfFact]
    public async Task The_same_seed_gives_the_same_run()
    {
        var options = Options(1500, programs: [BpfFuzzer.SubscriberEgress]);
        var first = await new BpfFuzzer(options, TextWriter.Null).RunAsync([SampleProtocol.TickHeaderFastPath.Protocol], default);
        var second = await new BpfFuzzer(options, TextWriter.Null).RunAsync([SampleProtocol.TickHeaderFastPath.Protocol], default);

        Assert.Equal(first.Programs[0].Branches, second.Programs[0].Branches);
        Assert.Equal(first.Programs[0].Rounds, second.Programs[0].Rounds);
    }

    private sealed class TtlOffByOneModel(DescriptorRules rules, RelayState state) : ReferenceModel(rules, state)
    {
        protected override byte CopyTtl => 65;
    }

    private static string Mix(ProgramFuzzCounts counts) =>
        $"{counts.Protocol} {counts.Program}: " + string.Join(", ", counts.Branches.Select(b => $"{b.Key} {b.Value}"));

    private static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
