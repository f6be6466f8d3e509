using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CliWrap;
using CliWrap.Buffered;
using FastRelay.Cli.Lab;
using FastRelay.Cli.Relay;
using FastRelay.Cli.Scenario;
using FastRelay.Cli.Commands;
using FastRelay.Protocols.CustomUdp.Relay;
using FastRelay.Protocols.CustomUdp.Wire;
using FastRelay.Tests.Infrastructure;
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

    /// <summary>
    /// The promise: after kill -9 (TCX links gone with the process, pins left behind) a new relay starts clean, and the
    /// running publisher and subscriber find it on their own (the subscriber re-subscribes after a second of silence, the
    /// publisher answers the new relay's challenge of its DATA) so the stream resumes through it. The phases wait for
    /// conditions read from the relays' status files (each written by its own process) instead of fixed durations: a
    /// relay's start-up on two loaded shared cores has taken seconds, and a fixed 9 s window then left too few packets.
    /// </summary>
    [LabFact(needsClang: true)]
    public async Task After_kill_9_a_new_relay_starts_clean_and_the_stream_resumes()
    {
        const ulong PacketsPerPhase = 500; // one second at 500 pps through each relay
        await using var lab = await LabTopology.UpAsync(new LabOptions { Subscribers = 1, RelayInterfaces = 2 });
        var work = Directory.CreateTempSubdirectory("fastrelay-kill-").FullName;
        using var stopClients = new CancellationTokenSource();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        void Log(string line) => output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.00} s  {line}");
        try
        {
            var first = RelayProcess.Start(lab, RelayMode.FastPath, lab.BpfFsPath);
            await first.WaitReadyAsync(TimeSpan.FromSeconds(30), default);
            Log($"first relay up (pid {first.ProcessId})");
            var json = Path.Combine(work, "s0.json");
            // Both clients run until stopped: the subscriber with SIGTERM (it unsubscribes and writes its report), the
            // publisher killed once the report is written.
            var subscriber = lab.Command(lab.Subscribers[0], "dotnet",
                    [RelayScenario.FastRelayDll, "subscribe", "--relay", $"{lab.RelayDownstream.IPv4}:7400", "--channel", "1", "--json", json])
                .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(stopClients.Token);
            await Eventually.TrueAsync(() => ReadStatus(lab, first.ProcessId) is { Subscribers.Count: 1 }, "the first relay accepts the subscriber",
                TimeSpan.FromSeconds(60));
            var publisher = lab.Command(lab.Publisher, "dotnet",
                    [RelayScenario.FastRelayDll, "publish", "--relay", $"{lab.RelayUpstream.IPv4}:7400", "--channel", "1", "--rate", "500", "--duration", "120"])
                .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(stopClients.Token);
            await Eventually.TrueAsync(() => ForwardedTo(ReadStatus(lab, first.ProcessId)) >= PacketsPerPhase,
                $"the first relay forwards {PacketsPerPhase} packets to the subscriber", TimeSpan.FromSeconds(60));
            var beforeKill = ForwardedTo(ReadStatus(lab, first.ProcessId));
            Log($"first relay forwarded {beforeKill} packets");

            await first.KillAsync();
            Log("relay killed");
            Assert.Empty(await TcxPrograms(lab)); // TCX links went with the process
            var pins = Path.Combine(lab.BpfFsPath, "fastrelay", lab.Prefix);
            Assert.True(Directory.Exists(pins) && Directory.GetFiles(pins).Length > 0, "kill -9 leaves the pinned maps behind");

            await using var second = RelayProcess.Start(lab, RelayMode.FastPath, lab.BpfFsPath);
            await second.WaitReadyAsync(TimeSpan.FromSeconds(30), default);
            Log($"second relay up (pid {second.ProcessId})");
            Assert.Equal(6, (await TcxPrograms(lab)).Count); // its own three programs on two devices, nothing stale

            // The stream resumes through the new relay: the publisher registered again and the subscriber gets copies.
            await Eventually.TrueAsync(() => ReadStatus(lab, second.ProcessId)?.Channels.Any(c => c.Upstream is not null) == true,
                "the publisher registers with the new relay:\n" + second.Log, TimeSpan.FromSeconds(60));
            Log("publisher registered with the second relay");
            await Eventually.TrueAsync(() => ReadStatus(lab, second.ProcessId) is { Subscribers.Count: 1 },
                "the subscriber subscribes to the new relay:\n" + second.Log, TimeSpan.FromSeconds(60));
            Log("subscriber accepted by the second relay");
            await Eventually.TrueAsync(() => ForwardedTo(ReadStatus(lab, second.ProcessId)) >= PacketsPerPhase,
                $"the new relay forwards {PacketsPerPhase} packets to the subscriber:\n" + second.Log, TimeSpan.FromSeconds(60));
            var afterRestart = ForwardedTo(ReadStatus(lab, second.ProcessId));
            Log($"second relay forwarded {afterRestart} packets");

            ProcessSignals.Terminate(subscriber.ProcessId);
            var report = await subscriber;
            stopClients.Cancel(); // the publisher: its report is not needed
            try { await publisher; } catch (OperationCanceledException) { }
            await second.StopAsync();
            Assert.True(File.Exists(json), "the subscriber wrote no report: " + report.StandardError);
            var s = System.Text.Json.JsonSerializer.Deserialize(File.ReadAllText(json),
                FastRelay.Protocols.CustomUdp.Clients.CustomUdpJsonContext.Default.SubscriberReport)!;
            Log($"subscriber received {s.Received} + {s.Repaired} repaired, resubscribes {s.Resubscribes}");
            Assert.True(s.Resubscribes >= 1, "the subscriber should have re-subscribed to the new relay\n" + report.StandardOutput);
            // What both relays counted as sent to it arrived (a status is a snapshot: the subscriber has at least that).
            Assert.True((ulong)(s.Received + s.Repaired) >= beforeKill + afterRestart,
                $"the subscriber got {s.Received} + {s.Repaired} repaired, the relays sent {beforeKill} + {afterRestart}\n{report.StandardOutput}");
            Assert.Contains("upstream", second.Log); // the publisher re-registered through the new relay's challenge
        }
        finally
        {
            stopClients.Cancel();
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>The relay's status file if the relay with this process id wrote it (the killed relay's file stays until the
    /// new one replaces it), else null.</summary>
    private static RelayStatus? ReadStatus(LabNetwork lab, int processId)
    {
        try
        {
            var file = RelayCommand.StatusFile(lab.Prefix);
            return File.Exists(file) && RelayStatus.FromJson(File.ReadAllText(file)) is { } status && status.ProcessId == processId ? status : null;
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException)
        {
            return null; // replaced while read: the next look finds the new one
        }
    }

    /// <summary>Packets the relay sent its one subscriber (kernel copies and userspace sends), 0 without one.</summary>
    private static ulong ForwardedTo(RelayStatus? status) => status?.Subscribers.SingleOrDefault()?.Forwarded ?? 0;

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
