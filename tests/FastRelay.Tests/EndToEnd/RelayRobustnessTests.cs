using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CliWrap;
using CliWrap.Buffered;
using FastRelay.Cli.Lab;
using FastRelay.Cli.Relay;
using FastRelay.Cli.Scenario;
using FastRelay.Protocols.CustomUdp.Wire;
using FastRelay.Tests.Lab;
using FastRelay.Tests.Packets;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.EndToEnd;

/// <summary>The relay under abuse: a flood of malformed and spoofed packets, and kill -9 followed by a new relay.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class RelayRobustnessTests(ITestOutputHelper output)
{
    private const ushort Channel = 1;

    [LabFact(needsClang: true)]
    public async Task A_flood_of_malformed_and_spoofed_packets_crashes_nothing_and_sends_no_data_to_unconfirmed_addresses()
    {
        const int VictimPort = 5555;
        using var victimDone = new CancellationTokenSource();
        Task<int>? victim = null;
        Socket? victimSocket = null;
        var result = await RelayScenario.RunAsync(new ScenarioOptions
        {
            DurationSeconds = 3,
            Publishers = [new ScenarioPublisher(Channel, RatePps: 500)],
            Subscribers = [new ScenarioSubscriber(0, Channel)],
            Progress = output.WriteLine,
            // s1 never subscribes: it is the address the attacker impersonates.
            BeforePublishing = async lab =>
            {
                var host = lab.Subscribers[1];
                victimSocket = lab.UdpSocket(host, new IPEndPoint(host.IPv4, VictimPort));
                victim = Task.Run(() => CountData(victimSocket, victimDone.Token));
                await Task.Run(() => Flood(lab, host.IPv4, VictimPort));
            },
            ExtraSubscriberHosts = 1,
        });
        victimDone.Cancel();
        var dataAtVictim = await victim!;
        victimSocket!.Dispose();

        // The legitimate subscriber keeps being served while the relay sorts through the flood (on two shared cores a
        // repair can miss the subscriber's deadline, so allow a packet or two of the 1500).
        var legit = Assert.Single(result.Subscribers);
        Assert.True(legit.Received + legit.Repaired >= result.Publishers[0].PacketsSent * 0.99,
            $"the legitimate subscriber got {legit.Received} + {legit.Repaired} repaired of {result.Publishers[0].PacketsSent}");
        Assert.Equal(0, dataAtVictim);
        var status = result.RelayStatusDuringStream!;
        Assert.Single(status.Subscribers);
        Assert.True(status.Totals.Malformed > 0, "the garbage was not seen as malformed");
        Assert.True(status.Totals.Refused > 0, "forged cookies were not refused");
        Assert.DoesNotContain("Unhandled", result.RelayLog);
        Assert.DoesNotContain("fail:", result.RelayLog);
    }

    [LabFact(needsClang: true)]
    public async Task After_kill_9_a_new_relay_starts_clean_and_the_stream_resumes()
    {
        await using var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = 1, RelayInterfaces = 2 });
        var work = Directory.CreateTempSubdirectory("fastrelay-kill-").FullName;
        try
        {
            var first = RelayProcess.Start(lab, RelayMode.FastPath, lab.BpfFsPath);
            await first.WaitReadyAsync(TimeSpan.FromSeconds(30), default);
            var json = Path.Combine(work, "s0.json");
            var subscriber = lab.Command(lab.Subscribers[0], "dotnet",
                    [RelayScenario.FastRelayDll, "subscribe", "--relay", $"{lab.RelayDownstream.IPv4}:7400", "--channel", "1", "--duration", "9", "--json", json])
                .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
            await Task.Delay(700);
            var publisher = lab.Command(lab.Publisher, "dotnet",
                    [RelayScenario.FastRelayDll, "publish", "--relay", $"{lab.RelayUpstream.IPv4}:7400", "--channel", "1", "--rate", "500", "--duration", "7"])
                .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
            await Task.Delay(2000);

            await first.KillAsync();
            output.WriteLine("relay killed");
            Assert.Empty(await TcxPrograms(lab)); // TCX links went with the process
            var pins = Path.Combine(lab.BpfFsPath, "fastrelay", lab.Prefix);
            Assert.True(Directory.Exists(pins) && Directory.GetFiles(pins).Length > 0, "kill -9 leaves the pinned maps behind");

            await using var second = RelayProcess.Start(lab, RelayMode.FastPath, lab.BpfFsPath);
            await second.WaitReadyAsync(TimeSpan.FromSeconds(30), default);
            output.WriteLine("second relay up");
            Assert.Equal(6, (await TcxPrograms(lab)).Count); // its own three programs on two devices, nothing stale

            await publisher;
            var report = (await subscriber).StandardOutput;
            await second.StopAsync();
            var s = System.Text.Json.JsonSerializer.Deserialize(File.ReadAllText(json),
                FastRelay.Protocols.CustomUdp.Clients.CustomUdpJsonContext.Default.SubscriberReport)!;
            output.WriteLine($"received {s.Received}, resubscribes {s.Resubscribes}");
            Assert.True(s.Resubscribes >= 1, "the subscriber should have re-subscribed to the new relay");
            // ~2 s before the kill and ~3-4 s after the restart at 500 pps: clearly resumed.
            Assert.True(s.Received > 2000, $"the stream did not resume: {s.Received} packets");
            Assert.Contains("upstream", second.Log); // the publisher re-registered through the new relay's challenge
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Programs attached through TCX on every relay interface (queried inside the relay namespace).</summary>
    private static Task<List<uint>> TcxPrograms(LabNetwork lab) =>
        NetnsThread.RunAsync(lab.Relay.Namespace, () => lab.Relay.Interfaces
            .SelectMany(i => new[] { FastRelay.Bpf.TcDirection.Ingress, FastRelay.Bpf.TcDirection.Egress }
                .SelectMany(d => FastRelay.Bpf.TcxQuery.AttachedPrograms(i.IfIndex, d)))
            .ToList());

    private static int CountData(Socket socket, CancellationToken stop)
    {
        var buffer = new byte[2048];
        var data = 0;
        socket.ReceiveTimeout = 100;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var n = socket.Receive(buffer);
                if (n >= CustomUdpWire.HeaderSize && PacketHeader.IsDataPacket(buffer.AsSpan(0, n)))
                    data++;
            }
            catch (SocketException)
            {
            }
        }
        return data;
    }

    /// <summary>From the publisher's host: garbage at many ports, forged handshakes from its own address, and
    /// SUBSCRIBE/CONFIRM spoofed with the victim's address (raw socket, IP_HDRINCL).</summary>
    private static void Flood(LabNetwork lab, IPAddress victim, int victimPort)
    {
        var relay = lab.RelayUpstream.IPv4;
        var random = new Random(7);
        using var udp = lab.UdpSocket(lab.Publisher, AddressFamily.InterNetwork);
        using var raw = NetnsThread.CreateSocket(lab.Publisher.Namespace, AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Udp);
        raw.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.HeaderIncluded, true);
        var buffer = new byte[512];
        for (var i = 0; i < 3000; i++)
        {
            var length = random.Next(0, 200);
            random.NextBytes(buffer.AsSpan(0, length));
            if (i % 3 == 0 && length > 0)
                buffer[0] = (byte)(i % 2 == 0 ? 0x10 : 0x18); // looks like our protocol, then garbage
            var port = i % 4 == 0 ? random.Next(1, 65535) : 7400;
            udp.SendTo(buffer.AsSpan(0, length), new IPEndPoint(relay, port));
        }
        var subscribe = new byte[CustomUdpWire.SubscribePacketSize];
        var confirm = new byte[CustomUdpWire.ConfirmPacketSize];
        var subscribeLength = new Subscribe(0, CustomUdpWire.UnlimitedRate).Write(subscribe, Channel, 0);
        for (var i = 0; i < 200; i++)
        {
            Span<byte> cookie = stackalloc byte[16];
            random.NextBytes(cookie);
            var confirmLength = new Confirm(Role.Subscriber, new HandshakeCookie(cookie), 0, CustomUdpWire.UnlimitedRate).Write(confirm, Channel, 0);
            udp.SendTo(confirm.AsSpan(0, confirmLength), new IPEndPoint(relay, 7400));                       // forged cookie
            SendSpoofed(raw, victim, victimPort, relay, subscribe.AsSpan(0, subscribeLength));               // spoofed subscribe
            SendSpoofed(raw, victim, victimPort, relay, confirm.AsSpan(0, confirmLength));                   // spoofed confirm
        }
        Thread.Sleep(300);
    }

    private static void SendSpoofed(Socket raw, IPAddress source, int sourcePort, IPAddress destination, ReadOnlySpan<byte> payload)
    {
        var frame = new PacketBuilder { Source = source, Destination = destination, SourcePort = (ushort)sourcePort, DestinationPort = 7400 }.Build(payload);
        raw.SendTo(frame.AsSpan(14), SocketFlags.None, new IPEndPoint(destination, 0)); // without the Ethernet header
    }
}
