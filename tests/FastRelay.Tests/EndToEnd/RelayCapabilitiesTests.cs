using System.Globalization;
using CliWrap;
using CliWrap.Buffered;
using FastRelay.Cli.Lab;
using FastRelay.Cli.Relay;
using FastRelay.Cli.Scenario;
using FastRelay.Tests.Lab;
using Xunit;

namespace FastRelay.Tests.EndToEnd;

/// <summary>The fast-path relay needs no full root: CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN are enough once bpffs is mounted
/// (docs/operations.md, the systemd unit there); without CAP_PERFMON the kernel refuses the programs and the relay says why.</summary>
public sealed class RelayCapabilitiesTests
{
    private const ulong NetAdmin = 1UL << 12, Perfmon = 1UL << 38, Bpf = 1UL << 39;

    [LabFact(needsClang: true)]
    public async Task With_only_bpf_perfmon_and_net_admin_the_fast_path_attaches_and_forwards()
    {
        await using var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = 1, RelayInterfaces = 2 });
        await using var relay = RelayProcess.Start(lab, RelayMode.FastPath, lab.BpfFsPath, capabilities: ["bpf", "perfmon", "net_admin"]);
        await relay.WaitReadyAsync(TimeSpan.FromSeconds(60), default);
        Assert.Equal(Bpf | Perfmon | NetAdmin, EffectiveCapabilities(relay.ProcessId));
        Assert.Contains("programs attached", relay.Log);

        var subscriber = lab.Command(lab.Subscribers[0], "dotnet",
                [RelayScenario.FastRelayDll, "subscribe", "--relay", $"{lab.RelayDownstream.IPv4}:7400", "--channel", "1", "--duration", "4"])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        await Task.Delay(700);
        var publisher = await lab.Command(lab.Publisher, "dotnet",
                [RelayScenario.FastRelayDll, "publish", "--relay", $"{lab.RelayUpstream.IPv4}:7400", "--channel", "1", "--rate", "500", "--duration", "2"])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        var received = await subscriber;
        await relay.StopAsync();

        Assert.Equal(0, publisher.ExitCode);
        Assert.Equal(0, received.ExitCode);
        Assert.Matches(@"received\s+[1-9]\d{2,}", received.StandardOutput); // hundreds of packets came through the kernel
        Assert.DoesNotContain("Unhandled", relay.Log);
    }

    [LabFact(needsClang: true)]
    public async Task Without_perfmon_the_kernel_refuses_and_the_relay_names_the_capabilities_it_needs()
    {
        await using var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = 1 });
        await using var relay = RelayProcess.Start(lab, RelayMode.FastPath, lab.BpfFsPath, capabilities: ["bpf", "net_admin"]);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => relay.WaitReadyAsync(TimeSpan.FromSeconds(60), default));

        Assert.Contains("CAP_PERFMON", error.Message);
        Assert.DoesNotContain("Unhandled exception", error.Message);
    }

    private static ulong EffectiveCapabilities(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
        return ulong.Parse(line["CapEff:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }
}
