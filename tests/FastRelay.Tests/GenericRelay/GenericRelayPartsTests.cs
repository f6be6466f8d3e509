using System.Net;
using System.Runtime.InteropServices;
using FastRelay.Bpf;
using FastRelay.Cli;
using FastRelay.Cli.Relay;
using FastRelay.Relay;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Runtime;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using RepoPaths = FastRelay.Tests.Infrastructure.RepoPaths;

namespace FastRelay.Tests.GenericRelay;

/// <summary>The generic relay's smaller parts: reload triggers, protocol choice from a project, budgets in the kernel
/// map, status output.</summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed partial class GenericRelayPartsTests(GeneratedObjects objects) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("frgn-parts-").FullName;

    [Fact]
    public async Task The_config_watcher_fires_on_a_rewrite_and_on_sighup()
    {
        var path = Path.Combine(_dir, "relay.json");
        File.WriteAllText(path, "{}");
        using var watcher = new ConfigWatcher(path, TimeSpan.FromSeconds(1));
        Assert.False(await watcher.WaitAsync(TimeSpan.FromMilliseconds(50), CancellationToken.None), "fired with nothing changed");

        File.WriteAllText(path + ".new", """{ "channels": [] }""");
        File.Move(path + ".new", path, overwrite: true);
        await Eventually.TrueAsync(() => watcher.WaitAsync(TimeSpan.FromMilliseconds(100), CancellationToken.None).GetAwaiter().GetResult(), "a reload after the rewrite");

        // SIGHUP to this process: the watcher takes it (the process is not terminated) and asks for a reload.
        Assert.Equal(0, Kill(Environment.ProcessId, 1));
        await Eventually.TrueAsync(() => watcher.WaitAsync(TimeSpan.FromMilliseconds(100), CancellationToken.None).GetAwaiter().GetResult(), "a reload after SIGHUP");
        Assert.False(await watcher.WaitAsync(TimeSpan.FromMilliseconds(50), CancellationToken.None), "one signal gave two reloads");
    }

    /// <summary>`relay --project` builds the example project and picks the descriptor by name; a wrong name lists the
    /// ones there are.</summary>
    [Fact]
    public async Task The_protocol_comes_from_a_built_project_by_name()
    {
        var project = Path.Combine(RepoPaths.Root, "examples", "rtp", "Rtp.csproj");
        var options = new GenericRelayOptions { Name = "frgn-project", Projects = [project], Protocol = "rtp_renumbered" };

        var protocol = await GenericRelayRunner.ResolveProtocolAsync(options, CancellationToken.None);
        Assert.Equal("rtp_renumbered", protocol.Name);
        Assert.True(ProtocolFeatures.Of(protocol).RenumbersPerSubscriber);

        var e = await Assert.ThrowsAsync<UserFacingException>(() => GenericRelayRunner.ResolveProtocolAsync(options with { Protocol = "rtcp" }, CancellationToken.None));
        Assert.Contains("rtp, rtp_renumbered", e.Message);
        var both = await Assert.ThrowsAsync<UserFacingException>(() => GenericRelayRunner.ResolveProtocolAsync(options with { Protocol = null }, CancellationToken.None));
        Assert.Contains("--protocol", both.Message);
    }

    /// <summary>A budget from the configuration reaches fr_budgets full, and Tick refills what the kernel debited,
    /// never past the burst.</summary>
    [BpfFact]
    public async Task A_budget_is_written_and_refilled_up_to_its_burst()
    {
        // custom_udp has priority drop (8 levels) and no stream translation.
        var protocol = GeneratedObjects.Protocol("custom_udp");
        using var bpf = BpfObject.Load(objects.ObjectPath(protocol));
        using var host = new RelayHost(bpf, protocol, 9100, NullLogger.Instance, (slot, channel, sub, _) =>
            new KernelSubscriber(slot, channel, sub.Address, new IPEndPoint(IPAddress.Loopback, 9100), 1, new byte[6], new byte[6], sub.ConnectionId));
        var budget = new BudgetPlan(BytesPerSecond: 1_000_000, BurstBytes: 50_000, ReservePerLevel: 100, DropFromLevel: 6);
        host.Apply(new RelayPlan([new ChannelPlan(7, null, [new SubscriberPlan(IPEndPoint.Parse("10.1.0.2:9200"), Budget: budget)])]));

        var image = new StructImage(host.Features.Struct("fr_budget"));
        Assert.True(bpf.Map("fr_budgets").TryLookup(BitConverter.GetBytes(0u), image.Bytes));
        Assert.Equal(50_000UL, image.Get("bytes"));
        Assert.Equal(1UL, image.Get("enabled"));
        Assert.Equal(100UL, image.Get("reserve_per_level"));
        Assert.Equal(6UL, image.Get("drop_from_level"));

        // The kernel spent it all; ticks refill at 1 MB/s and stop at the burst.
        host.Tables.SetBudget(0, 0, 100, 6);
        await Eventually.TrueAsync(() =>
        {
            host.Tick();
            bpf.Map("fr_budgets").TryLookup(BitConverter.GetBytes(0u), image.Bytes);
            return (long)image.Get("bytes") > 0;
        }, "a refill");
        await Eventually.TrueAsync(() =>
        {
            host.Tick();
            bpf.Map("fr_budgets").TryLookup(BitConverter.GetBytes(0u), image.Bytes);
            return image.Get("bytes") == 50_000UL;
        }, "a full budget after 50 ms of refills");
        host.Tick();
        bpf.Map("fr_budgets").TryLookup(BitConverter.GetBytes(0u), image.Bytes);
        Assert.Equal(50_000UL, image.Get("bytes"));
    }

    [Fact]
    public void A_generic_status_file_is_told_apart_and_printed()
    {
        var status = new GenericRelayStatus(GenericRelayStatus.KindName, "frgn-x", "fastpath", "rtp", "FastRelay.Examples.Rtp.RtpHeader", 5004, 1, DateTimeOffset.Now,
            "passed through", ["fr_upstream_ingress on eth0 ingress (Tcx)"], [new GenericChannelStatus(305419896, "10.0.0.2:40000", 1)],
            [new GenericSubscriberStatus(305419896, "studio", "10.1.0.2:6000", 0, null, 400, 68800, 0, 0)], 420,
            new Dictionary<string, ulong> { ["upstream_foreign_source"] = 20 });
        var json = status.ToJson();
        Assert.True(GenericRelayStatus.IsGeneric(json));
        Assert.False(GenericRelayStatus.IsGeneric("""{ "name": "custom-udp", "mode": "fastpath" }"""));

        var text = new StringWriter();
        GenericRelayStatus.FromJson(json)!.Print(text, running: true);
        Assert.Contains("generic host (fastpath) for rtp", text.ToString());
        Assert.Contains("studio", text.ToString());
        Assert.Matches(@"studio\s+305419896\s+400\s+68800", text.ToString());
        Assert.Contains("upstream_foreign_source 20", text.ToString());
    }

    /// <summary>The userspace copy loop reads the descriptor's fields from its attributes with the generator's rules:
    /// width from the property type, byte order, masks.</summary>
    [Fact]
    public void Descriptor_fields_come_from_the_attributes()
    {
        var tick = DescriptorFields.Of(typeof(SampleProtocol.TickHeader));
        var packet = new byte[24];
        packet[0] = 0xED; packet[1] = 0xFE; packet[2] = 1;                 // magic FEED little-endian, type 1
        packet[8] = 7;                                                       // instrument 7, little-endian u32
        packet[12] = 0x01; packet[13] = 0x02;                                // stream 0x0102, big-endian
        Assert.True(tick.IsEligible(packet));
        Assert.False(tick.IsEligible(packet.AsSpan(0, 23)));                 // shorter than the header
        Assert.Equal(7UL, tick.Channel!.Value.Read(packet));
        Assert.Equal(0x0102UL, tick.StreamId!.Value.Read(packet));
        Assert.True(tick.RenumberPackets && tick.TranslateStreams);
        Assert.Equal((4, 4), tick.ConnectionId);
        tick.PacketNumber!.Value.Write(packet, 0x1122334455667788);
        Assert.Equal(new byte[] { 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 }, packet[15..23]);
        packet[2] = 2;                                                       // not a tick
        Assert.False(tick.IsEligible(packet));

        var rtp = DescriptorFields.Of(typeof(FastRelay.Examples.Rtp.RtpHeader));
        var header = new byte[12];
        header[0] = 0x90;                                                    // version 2 with the extension bit: still RTP
        Assert.True(rtp.IsEligible(header));
        rtp.PacketNumber!.Value.Write(header, 0x1_0005);                     // 16 bits wrap
        Assert.Equal(new byte[] { 0x00, 0x05 }, header[2..4]);
        Assert.False(rtp.RenumberPackets);
        header[0] = 0x40;                                                    // version 1
        Assert.False(rtp.IsEligible(header));
    }

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
