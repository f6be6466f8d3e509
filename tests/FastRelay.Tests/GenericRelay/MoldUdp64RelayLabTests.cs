using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using CliWrap;
using CliWrap.Buffered;
using FastRelay.Cli.Lab;
using FastRelay.Cli.Relay;
using FastRelay.Cli.Scenario;
using FastRelay.Examples.MoldUdp64;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.GenericRelay;

/// <summary>
/// The generic relay host with a published market-data protocol: a MoldUDP64 feed of ITCH 5.0 messages
/// (<see cref="MoldUdp64Feed"/>) into `fastrelay relay --assembly MoldUdp64.dll --config relay.json --control ...` in the
/// lab's relay namespace, fanned out to receivers in their own namespaces. While the feed runs a receiver is added and
/// removed through the control API with `fastrelay relay ctl` (run in the relay namespace, as an operator would), the
/// configuration file gains a receiver in between (the reload keeps the API's), the API refuses a wrong token, and a
/// sender the channel does not allow sends the same session.
/// </summary>
[Collection(EndToEnd.EndToEndCollection.Name)]
public sealed class MoldUdp64RelayLabTests(ITestOutputHelper output)
{
    private const string Session = "NQTEST0001";
    private const ulong FirstSequence = 1;
    private const int MoldPort = 26477, SenderPort = 40000, ForbiddenPort = 40002, ReceiverPort = 26400, ControlPort = 9180;

    [LabTheory(needsClang: true)]
    [InlineData(RelayMode.FastPath)]
    [InlineData(RelayMode.Userspace)]
    public async Task Moldudp64_reaches_three_receivers_intact_with_the_sequence_advancing_by_the_message_count_while_the_api_adds_and_removes_one(RelayMode mode)
    {
        var prefix = "frct" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(2));
        await using var lab = await LabTopology.UpAsync(new LabOptions { Prefix = prefix, Subscribers = 5, RelayInterfaces = 2 });
        var work = Directory.CreateTempSubdirectory("frct-mold-").FullName;
        var config = Path.Combine(work, "relay.json");
        var statusFile = FastRelay.Cli.Commands.RelayCommand.StatusFile(prefix);
        var tokenFile = Path.ChangeExtension(statusFile, ".control-token");
        var receivers = lab.Subscribers.Select(s => new UdpCollector(lab.UdpSocket(s, AddressFamily.InterNetwork, ReceiverPort), s.Name)).ToList();
        var relayAddress = new IPEndPoint(lab.RelayUpstream.IPv4, MoldPort);
        var feed = new MoldUdp64Feed(Session, FirstSequence, seed: 14);
        var sent = new List<byte[]>();
        using var stopFeed = new CancellationTokenSource();
        try
        {
            GenericRelayProcess.WriteConfig(config, "passthrough", feed.Channel, new IPEndPoint(lab.Publisher.IPv4, SenderPort), receivers.Take(3));
            await using var relay = await GenericRelayProcess.StartAsync(lab, "--assembly", typeof(MoldUdp64Header).Assembly.Location, "--config", config,
                "--mode", mode.ToString(), "--control", $"127.0.0.1:{ControlPort}");
            Task feeding;
            try
            {
                Assert.Contains("passed through (advancing by the message count)", relay.Log);
                // The feed: a packet of 1..6 ITCH messages every 10 ms, a heartbeat every 25th, until told to stop; then
                // the end of session.
                var sender = lab.UdpSocket(lab.Publisher, new IPEndPoint(lab.Publisher.IPv4, SenderPort));
                feeding = Task.Run(async () =>
                {
                    using (sender)
                    {
                        for (var i = 0; !stopFeed.IsCancellationRequested; i++)
                        {
                            var packet = i % 25 == 24 ? feed.Heartbeat() : feed.NextPacket();
                            lock (sent)
                                sent.Add(packet);
                            sender.SendTo(packet, relayAddress);
                            await Task.Delay(10, CancellationToken.None);
                        }
                        var end = feed.EndOfSession();
                        lock (sent)
                            sent.Add(end);
                        sender.SendTo(end, relayAddress);
                    }
                });

                await Eventually.TrueAsync(() => receivers[0].Count >= 50, "s0 receives the feed", TimeSpan.FromSeconds(20));

                // A sender the channel does not allow: the same session from another port. Never forwarded.
                using (var foreign = lab.UdpSocket(lab.Publisher, new IPEndPoint(lab.Publisher.IPv4, ForbiddenPort)))
                {
                    var impostor = new MoldUdp64Feed(Session, 900_000_000, seed: 99);
                    for (var i = 0; i < 20; i++)
                        foreign.SendTo(impostor.NextPacket(), relayAddress);
                }

                // The API refuses a wrong token (and the relay goes on).
                var wrongToken = Path.Combine(work, "wrong.token");
                File.WriteAllText(wrongToken, "this-is-not-the-relays-token-0000");
                var refused = await Ctl(lab, "list", "--control", $"127.0.0.1:{ControlPort}", "--token-file", wrongToken);
                Assert.True(refused.ExitCode == 1, $"a wrong token was accepted: {refused.StandardOutput}");
                Assert.Contains("HTTP 401, field Authorization", refused.StandardError);

                // s3 joins through the API (found by the relay's name: its status file names the URL and the token file).
                var s3 = receivers[3];
                var added = await Ctl(lab, "add", "--name", prefix, "--channel", feed.Channel.ToString(), "--address", s3.Endpoint.ToString(), "--label", "late-desk");
                Assert.True(added.ExitCode == 0, added.StandardError);
                Assert.Contains($"{s3.Endpoint} added to channel {feed.Channel}", added.StandardOutput);
                await Eventually.TrueAsync(() => s3.Count >= 50, "the API-added s3 receives the feed", TimeSpan.FromSeconds(20));
                var listed = await Ctl(lab, "list", "--name", prefix, "--json");
                Assert.True(listed.ExitCode == 0, listed.StandardError);
                var owners = JsonDocument.Parse(listed.StandardOutput).RootElement.GetProperty("channels")[0].GetProperty("subscribers").EnumerateArray()
                    .ToDictionary(s => s.GetProperty("address").GetString()!, s => s.GetProperty("owner").GetString());
                Assert.Equal("api", owners[s3.Endpoint.ToString()]);
                Assert.Equal(3, owners.Values.Count(o => o == "file"));

                // The file gains s4 while s3 (the API's) receives: the reload keeps s3 where it is.
                var s4 = receivers[4];
                GenericRelayProcess.WriteConfig(config, "passthrough", feed.Channel, new IPEndPoint(lab.Publisher.IPv4, SenderPort), [.. receivers.Take(3), s4]);
                await Eventually.TrueAsync(() => s4.Count >= 50, "the file's new s4 receives the feed", TimeSpan.FromSeconds(20));
                listed = await Ctl(lab, "list", "--name", prefix, "--json");
                owners = JsonDocument.Parse(listed.StandardOutput).RootElement.GetProperty("channels")[0].GetProperty("subscribers").EnumerateArray()
                    .ToDictionary(s => s.GetProperty("address").GetString()!, s => s.GetProperty("owner").GetString());
                Assert.Equal("api", owners[s3.Endpoint.ToString()]);
                Assert.Equal("file", owners[s4.Endpoint.ToString()]);
                output.WriteLine((await Ctl(lab, "list", "--name", prefix)).StandardOutput);
                // The token the relay generated is its owner's alone (read by `ctl --name` as root here).
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));

                // s3 leaves through the API: applied at once (the API answers after the maps are written), its map
                // entries are gone, and nothing more reaches it.
                var removed = await Ctl(lab, "remove", "--name", prefix, "--channel", feed.Channel.ToString(), "--address", s3.Endpoint.ToString());
                Assert.True(removed.ExitCode == 0, removed.StandardError);
                var s3AtRemoval = s3.Count;
                var removedAt = DateTimeOffset.Now;
                await GenericRelayProcess.WaitForStatusAsync(statusFile, s => s.Updated > removedAt.AddMilliseconds(300) && s.Subscribers.Count == 4);
                if (mode == RelayMode.FastPath)
                {
                    var endpoints = await GenericRelayProcess.SubscriberEndpointsInKernelAsync(lab, prefix);
                    Assert.Equal(new[] { 0, 1, 2, 4 }.Select(i => receivers[i].Endpoint.ToString()).Order(), endpoints.Order());
                }
                // The feed goes on for a while after the removal: a copy to s3 would have time to show.
                var sentAtRemoval = Count(sent);
                await Eventually.TrueAsync(() => Count(sent) >= sentAtRemoval + 100, "the feed runs on after the removal", TimeSpan.FromSeconds(20));
            }
            finally
            {
                stopFeed.Cancel();
            }
            await feeding;
            var all = Snapshot(sent);

            try
            {
                // Every datagram the relay accepted has landed: each receiver has what the relay counted for it.
                var status = await GenericRelayProcess.WaitForStatusAsync(statusFile, s => s.Kernel["upstream_matched"] == (ulong)all.Count && s.Subscribers.All(sub =>
                    receivers.First(r => r.Endpoint.ToString() == sub.Address).Count == (int)sub.Forwarded));
                output.WriteLine($"{mode}: {string.Join(", ", status.Kernel.Select(k => $"{k.Key}={k.Value}"))}");
                output.WriteLine($"sent {all.Count} datagrams ({feed.NextSequence - FirstSequence} messages); received: {string.Join(", ", receivers.Select(r => $"{r.Name}={r.Count}"))}");
                Assert.True(status.Kernel["upstream_foreign_source"] >= 20, "the foreign sender's packets were not seen as foreign");
            }
            finally
            {
                output.WriteLine(await relay.StopAsync());
            }

            Assert.False(File.Exists(tokenFile), "the generated control token outlived the relay");

            // The three from the start: every datagram, byte for byte, in the order sent; the sequence advances by each
            // packet's message count (heartbeats announce the next one), up to the end of session.
            foreach (var receiver in receivers.Take(3))
            {
                var got = receiver.Snapshot();
                Assert.Equal(all.Count, got.Count);
                for (var i = 0; i < got.Count; i++)
                    Assert.True(got[i].AsSpan().SequenceEqual(all[i]), $"{receiver.Name} datagram {i} differs from the one sent");
                AssertContiguous(got, receiver.Name, FirstSequence);
                Assert.Equal(MoldUdp64Feed.EndOfSessionCount, MoldUdp64Feed.Parse(got[^1]).Count);
            }

            // The API's receiver: a contiguous run of what was sent, from where it joined to where it was removed, across
            // the reload that added s4.
            var late = receivers[3].Snapshot();
            var start = AssertRunOfTheFeed(late, all, "s3");
            Assert.True(start + late.Count < all.Count - 100, $"s3 got datagrams {start}..{start + late.Count} of {all.Count}: it was not removed mid-stream");
            // The file's late joiner: from where it joined to the end of session.
            var fromFile = receivers[4].Snapshot();
            Assert.Equal(all.Count, AssertRunOfTheFeed(fromFile, all, "s4") + fromFile.Count);
        }
        finally
        {
            stopFeed.Cancel();
            foreach (var receiver in receivers)
                receiver.Dispose();
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>A receiver that joined mid-stream got a contiguous run of the datagrams sent; returns where it starts.</summary>
    private static int AssertRunOfTheFeed(IReadOnlyList<byte[]> got, List<byte[]> all, string name)
    {
        Assert.True(got.Count >= 50, $"{name} received {got.Count}");
        var start = all.FindIndex(d => d.AsSpan().SequenceEqual(got[0]));
        Assert.True(start > 0, $"{name}'s first datagram is not one the feed sent mid-stream");
        for (var i = 0; i < got.Count; i++)
            Assert.True(got[i].AsSpan().SequenceEqual(all[start + i]), $"{name} datagram {i} is not the feed's datagram {start + i}");
        AssertContiguous(got, name, expectedFirst: null);
        return start;
    }

    /// <summary>Each datagram parses as MoldUDP64 of the session with ITCH messages that fill it exactly, and its sequence
    /// number is the previous one's plus the previous message count: no gap and no repeat at any receiver.</summary>
    private static void AssertContiguous(IReadOnlyList<byte[]> datagrams, string name, ulong? expectedFirst)
    {
        MoldUdp64Feed.Packet? previous = null;
        for (var i = 0; i < datagrams.Count; i++)
        {
            var packet = MoldUdp64Feed.Parse(datagrams[i]);
            Assert.Equal(Session, packet.Session);
            if (previous is null)
            {
                if (expectedFirst is { } first)
                    Assert.Equal(first, packet.Sequence);
            }
            else
                Assert.True(previous.Next == packet.Sequence, $"{name} datagram {i}: sequence {packet.Sequence}, expected {previous.Next}");
            previous = packet;
        }
    }

    private static Task<BufferedCommandResult> Ctl(LabNetwork lab, params string[] arguments) =>
        lab.Command(lab.Relay, "dotnet", [RelayScenario.FastRelayDll, "relay", "ctl", .. arguments])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();

    private static int Count(List<byte[]> sent)
    {
        lock (sent)
            return sent.Count;
    }

    private static List<byte[]> Snapshot(List<byte[]> sent)
    {
        lock (sent)
            return sent.ToList();
    }
}
