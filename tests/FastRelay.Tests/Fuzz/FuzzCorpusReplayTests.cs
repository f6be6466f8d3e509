using FastRelay.Fuzz.Targets;
using Xunit;

namespace FastRelay.Tests.Fuzz;

/// <summary>
/// Replays the corpora that scripts/fuzz.sh (afl-fuzz + SharpFuzz) grew and committed, plus seeded mutations of them,
/// through every fuzz target: a parser that throws on any of them fails here, on every test run, without afl-fuzz.
/// </summary>
public class FuzzCorpusReplayTests
{
    private static string CorpusDirectory(string target) => Path.Combine(AppContext.BaseDirectory, "Fuzz", "corpus", target);

    public static TheoryData<string> Targets() => new(FuzzTargetCatalog.All.Keys);

    [Theory]
    [MemberData(nameof(Targets))]
    public void EveryTargetHasACommittedCorpus(string target)
    {
        Assert.True(Directory.Exists(CorpusDirectory(target)), $"no corpus for {target}: run scripts/fuzz.sh or add seeds");
        Assert.NotEmpty(Directory.GetFiles(CorpusDirectory(target)));
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void CorpusAndItsMutationsNeverThrow(string target)
    {
        var run = FuzzTargetCatalog.All[target];
        // string.GetHashCode is randomised per process: derive the seed from the name so every run mutates alike.
        var random = new Random(target.Aggregate(0x5eed, (h, c) => h * 31 + c));
        foreach (var file in Directory.GetFiles(CorpusDirectory(target)))
        {
            var input = File.ReadAllBytes(file);
            Replay(run, target, file, input);
            for (int i = 0; i < 50; i++)
            {
                var mutated = Mutate(input, random);
                Replay(run, target, $"{file} mutation {i}", mutated);
            }
        }
    }

    private static void Replay(FuzzTarget run, string target, string what, byte[] input)
    {
        try { run(input); }
        catch (Exception e) { Assert.Fail($"{target} threw on {what} ({Convert.ToHexString(input)}): {e}"); }
    }

    /// <summary>afl-style havoc in miniature: flips, interesting values, truncation, duplication.</summary>
    private static byte[] Mutate(byte[] input, Random random)
    {
        var bytes = input.ToList();
        int steps = 1 + random.Next(4);
        for (int s = 0; s < steps; s++)
        {
            switch (random.Next(5))
            {
                case 0 when bytes.Count > 0: bytes[random.Next(bytes.Count)] ^= (byte)(1 << random.Next(8)); break;
                case 1 when bytes.Count > 0: bytes[random.Next(bytes.Count)] = (byte)new[] { 0x00, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xff }[random.Next(8)]; break;
                case 2 when bytes.Count > 0: bytes = bytes.Take(random.Next(bytes.Count + 1)).ToList(); break;
                case 3 when bytes.Count > 0:
                    int start = random.Next(bytes.Count), length = Math.Min(bytes.Count - start, 1 + random.Next(16));
                    bytes.InsertRange(random.Next(bytes.Count + 1), bytes.GetRange(start, length));
                    break;
                default: bytes.Insert(random.Next(bytes.Count + 1), (byte)random.Next(256)); break;
            }
        }
        return bytes.ToArray();
    }
}
