using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastRelay.Bpf;
using FastRelay.Cli.Fuzz.Model;
using FastRelay.Cli.Gen;
using FastRelay.Generated;

namespace FastRelay.Cli.Fuzz;

public sealed record BpfFuzzOptions
{
    public int PacketsPerProgram { get; init; } = 100_000;
    public int Seed { get; init; } = 1;
    /// <summary>Packets per map setup: each round draws a new one.</summary>
    public int PacketsPerRound { get; init; } = 500;
    /// <summary>Reproducers written per program (the first mismatches).</summary>
    public int MaxReproducers { get; init; } = 5;
    public string ReproducerDirectory { get; init; } = "fuzz-bpf-repro";
    public string? TemplatesDirectory { get; init; }
    /// <summary>Names of the programs to run (default: all three).</summary>
    public IReadOnlyList<string>? Programs { get; init; }
    /// <summary>MTU of the subscribers' device: small enough that a translated copy can exceed it.</summary>
    public int DeviceMtu { get; init; } = 1280;
    /// <summary>The model under which the programs are judged; a test replaces it to plant a divergence.</summary>
    public Func<DescriptorRules, RelayState, ReferenceModel> Model { get; init; } = (rules, state) => new ReferenceModel(rules, state);
}

/// <summary>
/// Drives every program of a generated protocol through BPF_PROG_TEST_RUN with seeded random and mutated packets under
/// random map setups, and compares each run with the reference model: verdict, output frame byte for byte, the mark it
/// leaves with, registration events, global and per-subscriber counters, packet numbers, budget, credit, channel rotation
/// and kernel cache entries. The first mismatches of each program are written as reproducers: the round's map setup, the
/// packets before the failing one in that round, and the failing one.
/// </summary>
public sealed class BpfFuzzer(BpfFuzzOptions options, TextWriter log)
{
    public const string UpstreamIngress = "fr_upstream_ingress", SubscriberEgress = "fr_subscriber_egress", SubscriberIngress = "fr_subscriber_ingress";
    public static readonly string[] AllPrograms = [UpstreamIngress, SubscriberEgress, SubscriberIngress];

    public async Task<BpfFuzzReport> RunAsync(IReadOnlyList<GeneratedProtocol> protocols, CancellationToken cancellationToken)
    {
        var report = new BpfFuzzReport { Seed = options.Seed, PacketsPerProgram = options.PacketsPerProgram };
        var buildDir = Directory.CreateTempSubdirectory("fastrelay-fuzz-bpf-").FullName;
        try
        {
            var clang = await ClangToolchain.FindAsync(null, cancellationToken);
            var pipeline = new GenPipeline(clang, options.TemplatesDirectory ?? GenPipeline.DefaultTemplatesDir, log);
            using var device = RedirectDevice.Create("frfz", options.DeviceMtu);
            var devices = new FuzzDevices(device.IfIndex, options.DeviceMtu, Missing: 0x3FFF_FF00);
            foreach (var protocol in protocols)
            {
                var built = await pipeline.BuildAsync(protocol, buildDir, cancellationToken);
                var rules = DescriptorRules.Of(ProtocolCatalog.DescriptorType(protocol));
                foreach (var program in options.Programs ?? AllPrograms)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    report.Programs.Add(RunProgram(protocol, Path.Combine(buildDir, built.Object), rules, program, devices, cancellationToken));
                }
            }
        }
        finally
        {
            Directory.Delete(buildDir, recursive: true);
        }
        return report;
    }

    private ProgramFuzzCounts RunProgram(GeneratedProtocol protocol, string objectPath, DescriptorRules rules, string program,
        FuzzDevices devices, CancellationToken cancellationToken)
    {
        var counts = new ProgramFuzzCounts { Protocol = protocol.Name, Program = program };
        var clock = Stopwatch.StartNew();
        // A fresh object per program: counters, rings and hashes start empty.
        using var bpf = BpfObject.Load(objectPath);
        var maps = new KernelMaps(bpf, protocol);
        var events = new List<ModelEvent>();
        using var reader = new RingBufferReader(bpf.Map("fr_events"), record => events.Add(maps.DecodeEvent(record)));
        var prog = bpf.Program(program);
        var rng = new Random(StableSeed(options.Seed, protocol.Name, program));
        var forge = new PacketForge(rng, rules);
        // Upstream ingress's clones go through this object's egress program for real, as on a relay: the mark handoff, the
        // nested run and its side effects are judged too (the copies themselves vanish at the veth's down peer).
        using var egress = program == UpstreamIngress
            ? TcAttach.Attach(bpf.Program(SubscriberEgress), (int)devices.Veth, TcDirection.Egress, TcAttachMode.Tcx)
            : null;

        while (counts.Packets < options.PacketsPerProgram)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var state = FuzzScenario.Create(rng, rules, devices);
            if (egress is not null)
                state.EgressAttached.Add(devices.Veth);
            var setup = StateJson.Describe(state);
            maps.Write(state, rules.MaxSubscribers);
            state.Stats = maps.ReadStats();
            reader.Consume();
            events.Clear();
            var model = options.Model(rules, state);
            counts.Rounds++;
            var round = new List<FuzzInput>();
            var roundClean = true;
            for (var i = 0; i < options.PacketsPerRound && counts.Packets < options.PacketsPerProgram; i++)
            {
                var input = program switch
                {
                    UpstreamIngress => forge.ForUpstreamIngress(state, devices),
                    SubscriberEgress => forge.ForSubscriberEgress(state, devices),
                    _ => forge.ForSubscriberIngress(state, devices),
                };
                round.Add(input);
                counts.Packets++;
                var differences = RunOne(model, maps, prog, program, input, events, reader, counts);
                if (differences.Count == 0)
                    continue;
                counts.Mismatches++;
                Record(counts, protocol, program, rules, setup, round, differences);
                roundClean = false;
                break; // the kernel's maps and the model's no longer agree: a new round starts from a fresh setup
            }
            if (roundClean)
            {
                var differences = CompareAll(model.State, maps, rules);
                if (differences.Count > 0)
                {
                    counts.Mismatches++;
                    Record(counts, protocol, program, rules, setup, round, differences.Prepend("after the round:").ToList());
                }
            }
        }
        foreach (var (name, value) in maps.ReadStats().Where(c => c.Value != 0))
            counts.KernelCounters[name] = value;
        counts.Seconds = clock.Elapsed.TotalSeconds;
        log.WriteLine($"{protocol.Name} {program}: {counts.Packets} packets, {counts.Mismatches} mismatches, {counts.Seconds:0.0} s");
        return counts;
    }

    /// <summary>One packet: the model's expectation, the kernel's run, and every difference between them.</summary>
    private static List<string> RunOne(ReferenceModel model, KernelMaps maps, BpfProgram prog, string program, FuzzInput input,
        List<ModelEvent> events, RingBufferReader reader, ProgramFuzzCounts counts)
    {
        var differences = new List<string>();
        var context = new SkbContext { Mark = input.Context.Mark, Ifindex = input.Context.IfIndex, GsoSize = input.Context.GsoSize, GsoSegs = input.Context.GsoSize != 0 ? 2u : 0u };
        if (TestRunRefuses(input.Frame))
        {
            try
            {
                prog.TestRun(input.Frame, context);
                differences.Add($"the test run took a {input.Frame.Length}-byte frame it was expected to refuse (the model was not asked)");
            }
            catch (BpfException)
            {
                counts.RefusedByTestRun++;
                Tally(counts, "refused", "refused by the test run");
            }
            return differences;
        }
        var expected = program switch
        {
            UpstreamIngress => model.UpstreamIngress(input.Frame, input.Context),
            SubscriberEgress => model.SubscriberEgress(input.Frame, input.Context),
            _ => model.SubscriberIngress(input.Frame, input.Context),
        };
        BpfTestRunResult result;
        try
        {
            result = prog.TestRun(input.Frame, context);
        }
        catch (BpfException e)
        {
            differences.Add($"the test run failed: {e.Message.Split('\n')[0]}");
            return differences;
        }
        Tally(counts, TcVerdict.Name(expected.Verdict), expected.Branch);
        foreach (var clone in expected.CloneBranches)
            counts.Branches["egress of a clone: " + clone] = counts.Branches.GetValueOrDefault("egress of a clone: " + clone) + 1;

        if (result.ReturnValue != expected.Verdict)
            differences.Add($"verdict {TcVerdict.Name(result.ReturnValue)}, model {TcVerdict.Name(expected.Verdict)} ({expected.Branch})");
        if (!result.Output.AsSpan().SequenceEqual(expected.Output))
            differences.Add(FrameDifference(expected.Output, result.Output));
        if (result.Context.Mark != expected.Mark)
            differences.Add($"mark 0x{result.Context.Mark:x8}, model 0x{expected.Mark:x8}");

        reader.Consume();
        var actualEvents = events.ToList();
        events.Clear();
        if (!actualEvents.SequenceEqual(expected.Events))
            differences.Add($"events [{string.Join("; ", actualEvents)}], model [{string.Join("; ", expected.Events)}]");

        var stats = maps.ReadStats();
        foreach (var (name, value) in stats)
        {
            var want = model.State.Stats.GetValueOrDefault(name);
            if (value != want)
                differences.Add($"fr_stats.{name} {value}, model {want}");
        }
        foreach (var slot in expected.CloneSlots.Concat(expected.Slot is { } s ? [s] : Array.Empty<uint>()).Distinct())
            differences.AddRange(CompareSlot(model.State, maps, slot));
        if (expected.Channel is { } channel && model.State.Channels.TryGetValue(channel, out var ch))
            differences.AddRange(CompareChannel(maps, channel, ch));
        if (expected.CacheIndex is { } index)
        {
            var entry = maps.ReadCache(index);
            var want = model.State.Cache[index];
            if (entry is null || entry.UpstreamPacketNumber != want.UpstreamPacketNumber || !entry.Data.AsSpan().SequenceEqual(want.Data))
                differences.Add($"fr_cache[{index}] pn {entry?.UpstreamPacketNumber}, {entry?.Data.Length} bytes; model pn {want.UpstreamPacketNumber}, {want.Data.Length} bytes");
        }
        if (differences.Count > 0)
            differences.Insert(0, $"model branch: {TcVerdict.Name(expected.Verdict)} {expected.Branch}");
        return differences;
    }

    /// <summary>BPF_PROG_TEST_RUN itself refuses (EINVAL) a frame shorter than an Ethernet header, and one whose ethertype
    /// says IPv4 or IPv6 but whose IP header is cut (it pulls the header before the program runs); such frames cannot be
    /// given to the program this way. They are counted, not compared.</summary>
    public static bool TestRunRefuses(byte[] frame)
    {
        if (frame.Length < 14)
            return true;
        var type = frame[12] << 8 | frame[13];
        return (type == 0x0800 && frame.Length < 14 + 20) || (type == 0x86DD && frame.Length < 14 + 40);
    }

    private static IEnumerable<string> CompareSlot(RelayState state, KernelMaps maps, uint slot)
    {
        var subStats = maps.ReadSubStats(slot);
        foreach (var (name, value) in subStats)
        {
            var want = state.SubStats.GetValueOrDefault(slot)?.GetValueOrDefault(name) ?? 0;
            if (value != want)
                yield return $"fr_sub_stats[{slot}].{name} {value}, model {want}";
        }
        var pn = maps.ReadU64("fr_next_pn", slot);
        if (pn != state.NextPacketNumber.GetValueOrDefault(slot))
            yield return $"fr_next_pn[{slot}] {pn}, model {state.NextPacketNumber.GetValueOrDefault(slot)}";
        var last = maps.ReadU64("fr_last_numbered", slot);
        if (last != state.LastNumbered.GetValueOrDefault(slot))
            yield return $"fr_last_numbered[{slot}] 0x{last:x16}, model 0x{state.LastNumbered.GetValueOrDefault(slot):x16}";
        var (bytes, _) = maps.ReadBudget(slot);
        var budget = state.Budgets.GetValueOrDefault(slot)?.Bytes ?? 0;
        if (bytes != budget)
            yield return $"fr_budgets[{slot}].bytes {bytes}, model {budget}";
        if (maps.HasCredit)
        {
            var used = maps.ReadU64("fr_credit_used", slot);
            if (used != state.CreditUsed.GetValueOrDefault(slot))
                yield return $"fr_credit_used[{slot}] {used}, model {state.CreditUsed.GetValueOrDefault(slot)}";
        }
    }

    private static IEnumerable<string> CompareChannel(KernelMaps maps, ulong id, ChannelEntry ch)
    {
        var actual = maps.ReadChannel(id);
        if (actual is null)
            yield return $"fr_channels[{id}] missing";
        else if (actual.Value.Rotation != ch.Rotation || actual.Value.UpstreamPackets != ch.UpstreamPackets)
            yield return $"fr_channels[{id}] rotation {actual.Value.Rotation} upstream_packets {actual.Value.UpstreamPackets}, model {ch.Rotation} {ch.UpstreamPackets}";
    }

    /// <summary>Every slot and channel at the end of a round (the per-packet check reads only what the packet touched).</summary>
    private static List<string> CompareAll(RelayState state, KernelMaps maps, DescriptorRules rules)
    {
        var differences = new List<string>();
        for (var slot = 0u; slot < rules.MaxSubscribers; slot++)
            differences.AddRange(CompareSlot(state, maps, slot));
        foreach (var (id, ch) in state.Channels)
            differences.AddRange(CompareChannel(maps, id, ch));
        return differences;
    }

    private static void Tally(ProgramFuzzCounts counts, string verdict, string branch)
    {
        counts.Verdicts[verdict] = counts.Verdicts.GetValueOrDefault(verdict) + 1;
        counts.Branches[branch] = counts.Branches.GetValueOrDefault(branch) + 1;
    }

    private void Record(ProgramFuzzCounts counts, GeneratedProtocol protocol, string program, DescriptorRules rules, JsonObject setup,
        List<FuzzInput> round, List<string> differences)
    {
        if (counts.FirstDifferences.Count == 0)
            counts.FirstDifferences.AddRange(differences.Take(12));
        if (counts.Reproducers.Count >= options.MaxReproducers)
            return;
        Directory.CreateDirectory(options.ReproducerDirectory);
        var path = Path.GetFullPath(Path.Combine(options.ReproducerDirectory,
            $"{protocol.Name}-{program}-seed{options.Seed}-{counts.Packets}.json"));
        var failing = round[^1];
        var document = new JsonObject
        {
            ["protocol"] = protocol.Name,
            ["descriptor"] = protocol.DescriptorType,
            ["program"] = program,
            ["seed"] = options.Seed,
            ["packet"] = counts.Packets,
            ["differences"] = new JsonArray(differences.Select(d => (JsonNode)d).ToArray()),
            ["frame"] = Convert.ToHexStringLower(failing.Frame),
            ["context"] = Context(failing.Context),
            ["setup"] = setup,
            ["before"] = new JsonArray(round.Take(round.Count - 1)
                .Select(i => (JsonNode)new JsonObject { ["frame"] = Convert.ToHexStringLower(i.Frame), ["context"] = Context(i.Context) }).ToArray()),
        };
        File.WriteAllText(path, document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        counts.Reproducers.Add(path);
    }

    private static JsonObject Context(FuzzContext c) => new() { ["mark"] = $"0x{c.Mark:x8}", ["ifindex"] = c.IfIndex, ["gso_size"] = c.GsoSize };

    private static string FrameDifference(byte[] expected, byte[] actual)
    {
        var first = 0;
        while (first < Math.Min(expected.Length, actual.Length) && expected[first] == actual[first])
            first++;
        var from = Math.Max(0, first - 4);
        string Hex(byte[] f) => f.Length <= from ? "" : Convert.ToHexStringLower(f, from, Math.Min(f.Length - from, 24));
        return $"output differs at byte {first} ({actual.Length} bytes, model {expected.Length}): kernel [{from}..] {Hex(actual)} model {Hex(expected)}";
    }

    /// <summary>A seed per (seed, protocol, program) that does not depend on string.GetHashCode's per-process salt.</summary>
    public static int StableSeed(int seed, string protocol, string program)
    {
        var h = 2166136261u ^ (uint)seed;
        foreach (var c in protocol + "/" + program)
            h = (h ^ c) * 16777619u;
        return (int)(h & 0x7FFF_FFFF);
    }
}
