using System.Security.Cryptography;
using FastRelay.Cli.Bench.Moq;
using FastRelay.Cli.Bench.Moq.Floor;
using FastRelay.Cli.Lab;
using FastRelay.Tests.Lab;
using FastRelay.Tests.Moq.Clients;
using Xunit;

namespace FastRelay.Tests.Cli;

/// <summary>
/// The moq bench's kernel floor on its own, in a real lab (prefix frkf): clone_floor.bpf.c on the relay namespace's
/// upstream ingress, the floor sender in the publisher namespace, N receivers in the subscriber namespace, no relay
/// process. At a low rate every object must reach every receiver whole, and the kernel's time must have been counted.
/// Timings are not asserted beyond their order (the machine is shared).
/// </summary>
[Collection(MoqTimingCollection.Name)]
public sealed class MoqFloorLabTests
{
    [LabFact(needsClang: true)]
    public async Task The_floor_delivers_every_object_to_every_receiver_and_times_its_tc_program()
    {
        var options = new MoqBenchOptions
        {
            FanOuts = [1, 4], ObjectsPerSecond = 50, BitrateBitsPerSecond = 1_000_000, GopFrames = 25,
            WarmupSeconds = 0.3, DurationSeconds = 1, DrainSeconds = 0.3,
        };
        await using var lab = await LabTopology.UpAsync(new LabOptions
        {
            Prefix = "frkf" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2)), Subscribers = 1, RelayInterfaces = 2,
        });

        var report = await new MoqFloorRunner(options).RunAsync(lab, CancellationToken.None);

        Assert.Equal([1, 4], report.Points.Select(p => p.FanOut));
        foreach (var p in report.Points)
        {
            // Something was sent in the window (a stalled machine could shrink it, never to nothing in a second).
            Assert.True(p.Expected > 0 && p.Expected % p.FanOut == 0, p.ToString());
            Assert.Equal((p.Expected, 0L, 0L), (p.Delivered, p.Lost, p.Duplicates));
            Assert.True(p.LatencyP50Us <= p.LatencyP90Us && p.LatencyP90Us <= p.LatencyP99Us && p.LatencyP99Us <= p.LatencyMaxUs, p.ToString());
            // 1 Mbit/s at 50 objects/s: deltas of about 2.3 kB (2 datagrams), key objects 4× (7): the fast path's packets.
            Assert.InRange(p.DatagramsPerObject, 2, 7);
            // bpf_stats was on: the ingress program ran once per datagram sent, and made fan-out copies of each.
            Assert.True(p.KernelRunTimeNs > 0 && p.KernelRuns > 0, p.ToString());
            Assert.InRange(p.KernelCopies, (p.KernelRuns - 16) * p.FanOut, (p.KernelRuns + 16) * p.FanOut);
            Assert.True(p.KernelNanosecondsPerPacket > 0, p.ToString());
            Assert.Equal(Math.Round(p.KernelRunTimeNs / (double)p.KernelCopies, 0), p.KernelNanosecondsPerPacket);
            Assert.Equal(Math.Round(p.KernelRunTimeNs / (double)p.Delivered, 0), p.KernelNanosecondsPerObject);
        }
        Assert.Contains("no relay process", MoqFloorReport.Notes);
    }
}
