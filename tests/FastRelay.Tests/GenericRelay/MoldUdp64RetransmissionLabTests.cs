using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using FastRelay.Cli.Lab;
using FastRelay.Cli.Relay;
using FastRelay.Examples.MoldUdp64;
using FastRelay.Relay.Retransmission;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.GenericRelay;

/// <summary>
/// The generic host's retransmission service with MoldUDP64 re-requests, in network namespaces with the real kernel:
/// `fastrelay relay --assembly MoldUdp64.dll --config relay.json` with a "retransmission" section, a feed to two
/// receivers, one of which really loses a fifth of what arrives (a tc BPF drop at its interface's ingress,
/// <see cref="LabNetwork.SetLossAsync"/>). That receiver finds its gaps by the sequence numbers, as a MoldUDP64 client
/// does, asks the relay's request port for each (from another port of its address), and gets every missing packet back
/// byte for byte as the publisher sent it. A request from a host that is not a subscriber and a malformed one are not
/// answered (the relay's status counts both); a changed "retransmission" section is reported as needing a restart. The
/// same with `--mode Userspace`.
/// </summary>
[Collection(EndToEnd.EndToEndCollection.Name)]
public sealed class MoldUdp64RetransmissionLabTests(ITestOutputHelper output)
{
    private const string Session = "NQTEST0001";
    private const int MoldPort = 26477, RequestPort = 26478, SenderPort = 40000, ReceiverPort = 26400, RequesterPort = 26401;
    private const int DataPackets = 120, PacketsPerRequest = 16;

    [LabTheory(needsClang: true)]
    [InlineData(RelayMode.FastPath)]
    [InlineData(RelayMode.Userspace)]
    public async Task A_receiver_that_lost_moldudp64_packets_gets_each_back_byte_identical_by_re_request_and_strangers_get_nothing(RelayMode mode)
    {
        var prefix = "frrt" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(2));
        await using var lab = await LabTopology.UpAsync(new LabOptions { Prefix = prefix, Subscribers = 2, RelayInterfaces = 2 });
        var work = Directory.CreateTempSubdirectory("frrt-mold-").FullName;
        var config = Path.Combine(work, "relay.json");
        var statusFile = FastRelay.Cli.Commands.RelayCommand.StatusFile(prefix);
        var receivers = lab.Subscribers.Select(s => new UdpCollector(lab.UdpSocket(s, AddressFamily.InterNetwork, ReceiverPort), s.Name)).ToList();
        var lossy = lab.Subscribers[1];
        var requesterSocket = lab.UdpSocket(lossy, AddressFamily.InterNetwork, RequesterPort);
        var answers = new UdpCollector(requesterSocket, "requester");
        var strangerSocket = lab.UdpSocket(lab.Publisher, AddressFamily.InterNetwork, RequesterPort);
        var strangerAnswers = new UdpCollector(strangerSocket, "stranger");
        var feed = new MoldUdp64Feed(Session, 1, seed: 14);
        try
        {
            WriteConfig(config, feed.Channel, new IPEndPoint(lab.Publisher.IPv4, SenderPort), receivers, PacketsPerRequest);
            await using var relay = await GenericRelayProcess.StartAsync(lab, "--assembly", typeof(MoldUdp64Header).Assembly.Location, "--config", config,
                "--mode", mode.ToString());
            try
            {
                Assert.Contains($"retransmission (moldudp64) answers requests on UDP {RequestPort}", relay.Log);
                // Both receivers get the first packet before the loss starts (their routes are resolved by then).
                using var sender = lab.UdpSocket(lab.Publisher, new IPEndPoint(lab.Publisher.IPv4, SenderPort));
                var relayAddress = new IPEndPoint(lab.RelayUpstream.IPv4, MoldPort);
                var sent = new List<byte[]> { feed.NextPacket() };
                sender.SendTo(sent[0], relayAddress);
                await Eventually.TrueAsync(() => receivers.All(r => r.Count == 1), "both receivers get the first packet", TimeSpan.FromSeconds(20));

                await lab.SetLossAsync(lossy, 20, seed: 14);
                for (var i = 1; i < DataPackets; i++)
                {
                    sent.Add(feed.NextPacket());
                    sender.SendTo(sent[^1], relayAddress);
                    await Task.Delay(5);
                }
                // The feed idles: heartbeats announce the next sequence number, so a receiver sees a loss at the tail too.
                for (var i = 0; i < 5; i++)
                {
                    sent.Add(feed.Heartbeat());
                    sender.SendTo(sent[^1], relayAddress);
                    await Task.Delay(5);
                }
                await Eventually.TrueAsync(() => receivers[0].Count == sent.Count, "the loss-free receiver gets the whole feed", TimeSpan.FromSeconds(20));
                var status = await GenericRelayProcess.WaitForStatusAsync(statusFile, s => s.Retransmission is { } r && r.Counters.Recorded == DataPackets);
                await lab.ClearLossAsync(lossy);

                // The lossy receiver's gaps, found as a MoldUDP64 client finds them: a sequence number beyond the next expected.
                var got = receivers[1].Snapshot().Select(d => MoldUdp64Feed.Parse(d)).ToList();
                var gaps = new List<(ulong First, ulong Count)>();
                ulong expected = 1;
                foreach (var packet in got)
                {
                    if (packet.Sequence > expected)
                        gaps.Add((expected, packet.Sequence - expected));
                    expected = Math.Max(expected, packet.Next);
                }
                var missing = sent.Where(d => MoldUdp64Feed.Parse(d).Count > 0 && !receivers[1].Snapshot().Any(g => g.AsSpan().SequenceEqual(d))).ToList();
                output.WriteLine($"{mode}: the lossy receiver got {got.Count} of {sent.Count} datagrams; {missing.Count} data packets missing in {gaps.Count} gaps");
                Assert.True(missing.Count >= 5, $"the 20 % loss dropped only {missing.Count} data packets");

                var requestTo = new IPEndPoint(lab.RelayDownstream.IPv4, RequestPort);
                foreach (var (first, count) in gaps)
                {
                    for (var from = first; from < first + count; from += 0xFFFE)
                        requesterSocket.SendTo(Request(Session, from, (ushort)Math.Min(0xFFFE, first + count - from)), requestTo);
                }
                // Every missing data packet comes back, byte for byte, and nothing else.
                await Eventually.TrueAsync(() => answers.Count >= missing.Count, "the missing packets come back", TimeSpan.FromSeconds(20));
                var repaired = answers.Snapshot();
                Assert.Equal(missing.Count, repaired.Count);
                for (var i = 0; i < missing.Count; i++)
                    Assert.True(repaired[i].AsSpan().SequenceEqual(missing[i]), $"retransmitted packet {i} is not the publisher's datagram");

                // A stranger (the publisher's host) and a malformed request from the subscriber: counted, not answered.
                strangerSocket.SendTo(Request(Session, 1, 10), requestTo);
                requesterSocket.SendTo(Request(Session, 1, 10).Concat(new byte[] { 0 }).ToArray(), requestTo);
                status = await GenericRelayProcess.WaitForStatusAsync(statusFile, s => s.Retransmission!.Counters.Requests == gaps.Count + 2);
                var counters = status.Retransmission!.Counters;
                output.WriteLine($"{mode}: {counters}");
                Assert.Equal((1L, 1L, (long)missing.Count), (counters.NotSubscriber, counters.Malformed, counters.PacketsSent));
                Assert.Equal(0, strangerAnswers.Count);
                Assert.Equal(missing.Count, answers.Count);

                // The section is read at start only: a changed one is not applied, and the log says so.
                WriteConfig(config, feed.Channel, new IPEndPoint(lab.Publisher.IPv4, SenderPort), receivers, PacketsPerRequest / 2);
                await Eventually.TrueAsync(() => relay.Log.Contains("the retransmission section changed"), "the relay says a changed section needs a restart",
                    TimeSpan.FromSeconds(20));
            }
            finally
            {
                output.WriteLine(await relay.StopAsync());
            }
        }
        finally
        {
            foreach (var receiver in receivers)
                receiver.Dispose();
            answers.Dispose();
            strangerAnswers.Dispose();
            Directory.Delete(work, recursive: true);
        }
    }

    private static void WriteConfig(string path, ulong channel, IPEndPoint upstream, IEnumerable<UdpCollector> receivers, int packetsPerRequest)
    {
        File.WriteAllText(path + ".new", JsonSerializer.Serialize(new
        {
            sequence = "passthrough",
            channels = new[] { new { id = channel, upstream = upstream.ToString(), subscribers = receivers.Select(r => r.Endpoint.ToString()).ToArray() } },
            retransmission = new { format = "moldudp64", port = RequestPort, packetsPerRequest },
        }));
        File.Move(path + ".new", path, overwrite: true);
    }

    private static byte[] Request(string session, ulong first, ushort count)
    {
        var request = new byte[MoldUdp64Retransmission.HeaderLength];
        MoldUdp64Feed.SessionBytes(session).CopyTo(request, 0);
        BinaryPrimitives.WriteUInt64BigEndian(request.AsSpan(10), first);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(18), count);
        return request;
    }
}
