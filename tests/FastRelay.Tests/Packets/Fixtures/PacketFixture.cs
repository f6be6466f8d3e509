using System.Text;
using FastRelay.Bpf;
using Xunit;
using Xunit.Sdk;

namespace FastRelay.Tests.Packets.Fixtures;

/// <summary>One Katran-style fixture: input frame, context, expected verdict and expected output (null: unchanged).</summary>
public sealed record PacketFixture(string Name, byte[] Input, int ExpectedReturn, byte[]? ExpectedOutput = null, SkbContext? Context = null);

public static class PacketFixtureRunner
{
    /// <summary>Runs the fixture through BPF_PROG_TEST_RUN and checks verdict and output bytes.</summary>
    public static BpfTestRunResult Run(this BpfProgram program, PacketFixture fixture)
    {
        var result = program.TestRun(fixture.Input, fixture.Context);
        if (result.ReturnValue != fixture.ExpectedReturn)
            throw new XunitException($"{fixture.Name}: {program.Name} returned {result.ReturnValue}, expected {fixture.ExpectedReturn}");
        AssertFrame(fixture.ExpectedOutput ?? fixture.Input, result.Output, fixture.Name);
        return result;
    }

    public static void AssertFrame(byte[] expected, byte[] actual, string name)
    {
        if (expected.AsSpan().SequenceEqual(actual))
            return;
        var first = 0;
        while (first < Math.Min(expected.Length, actual.Length) && expected[first] == actual[first])
            first++;
        var message = new StringBuilder()
            .AppendLine($"{name}: output differs at byte {first} (expected {expected.Length} bytes, got {actual.Length})")
            .AppendLine("expected: " + Hex(expected, first))
            .AppendLine("actual:   " + Hex(actual, first));
        throw new XunitException(message.ToString());
    }

    private static string Hex(byte[] frame, int around)
    {
        var from = Math.Max(0, around - 8);
        var to = Math.Min(frame.Length, around + 24);
        return $"[{from}..{to}) " + Convert.ToHexString(frame, from, to - from);
    }

    public static void AssertUnchangedRun(BpfTestRunResult result, int expectedReturn, byte[] input, string name)
    {
        Assert.Equal(expectedReturn, result.ReturnValue);
        AssertFrame(input, result.Output, name);
    }
}
