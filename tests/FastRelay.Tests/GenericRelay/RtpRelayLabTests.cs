using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CliWrap;
using CliWrap.Buffered;
using FastRelay.Cli.Lab;
using FastRelay.Cli.Relay;
using FastRelay.Cli.Scenario;
using FastRelay.Examples.Rtp;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.GenericRelay;

/// <summary>
/// The generic relay host with a real published protocol and a real tool of its ecosystem: ffmpeg sends RTP (PCMU audio)
/// into `fastrelay relay --assembly Rtp.dll --protocol rtp --config relay.json` in the lab's relay namespace; the kernel
/// fans it out to receivers in their own namespaces. The configuration file is edited while the stream runs.
/// </summary>
[Collection(EndToEnd.EndToEndCollection.Name)]
public sealed class RtpRelayLabTests(ITestOutputHelper output)
{
    private const uint Ssrc = 0x12345678;
    private const int RtpPort = 5004, SenderPort = 40000, ForbiddenPort = 40002, ReceiverPort = 6000;
    private const int FirstSequence = 1000, SamplesPerPacket = 160;
    private static readonly byte[] ForbiddenMarker = Encoding.ASCII.GetBytes("NOT-ALLOWED-SENDER");

    /// <param name="protocol">rtp passes the sender's sequence numbers through; rtp_renumbered numbers each receiver's
    /// copies from 0 (examples/rtp/RtpHeader.cs).</param>
    /// <param name="mode">FastPath: copies made by the kernel; Userspace: the same host with this process's copy loop.</param>
    [LabTheory(needsClang: true)]
    [InlineData("rtp", false, RelayMode.FastPath)]
    [InlineData("rtp_renumbered", true, RelayMode.FastPath)]
    [InlineData("rtp", false, RelayMode.Userspace)]
    [InlineData("rtp_renumbered", true, RelayMode.Userspace)]
    public async Task Ffmpeg_rtp_reaches_three_receivers_intact_while_the_config_adds_and_removes_one_and_a_foreign_sender_is_not_forwarded(string protocol, bool renumbered, RelayMode mode)
    {
        if (!File.Exists("/usr/bin/ffmpeg"))
            throw new InvalidOperationException("ffmpeg is missing: scripts/setup.sh installs it (apt-get install ffmpeg)");
        var prefix = "frgn" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(2));
        await using var lab = await LabTopology.UpAsync(new LabOptions { Prefix = prefix, Subscribers = 4, RelayInterfaces = 2 });
        var work = Directory.CreateTempSubdirectory("frgn-rtp-").FullName;
        var config = Path.Combine(work, "relay.json");
        var statusFile = FastRelay.Cli.Commands.RelayCommand.StatusFile(prefix);
        var receivers = lab.Subscribers.Select(s => new UdpCollector(lab.UdpSocket(s, AddressFamily.InterNetwork, ReceiverPort), s.Name)).ToList();
        var upstream = new IPEndPoint(lab.Publisher.IPv4, SenderPort);
        var relayAddress = lab.RelayUpstream.IPv4;
        try
        {
            // s0, s1, s2 from the start to the end; s3 joins and leaves mid-stream.
            GenericRelayProcess.WriteConfig(config, renumbered ? "renumber" : "passthrough", Ssrc, upstream, receivers.Take(3));
            await using var relay = await GenericRelayProcess.StartAsync(lab, "--assembly", typeof(RtpHeader).Assembly.Location, "--protocol", protocol, "--config", config, "--mode", mode.ToString());
            try
            {
                // ffmpeg: 8 s of a 1 kHz sine as PCMU, 160 samples (20 ms) per packet, from a fixed port and SSRC.
                var ffmpeg = lab.Command(lab.Publisher, "ffmpeg",
                    ["-hide_banner", "-nostats", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=8000:samples_per_frame=160",
                     "-t", "8", "-c:a", "pcm_mulaw", "-ssrc", ((int)Ssrc).ToString(), "-seq", FirstSequence.ToString(), "-payload_type", "0",
                     "-f", "rtp", $"rtp://{relayAddress}:{RtpPort}?localport={SenderPort}&pkt_size=1200"])
                    .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();

                await Eventually.TrueAsync(() => receivers[0].Count >= 50, "s0 receives the stream", TimeSpan.FromSeconds(20));

                // A sender the channel does not allow: same SSRC, another source port. Never forwarded.
                using (var foreign = lab.UdpSocket(lab.Publisher, new IPEndPoint(lab.Publisher.IPv4, ForbiddenPort)))
                    for (var i = 0; i < 20; i++)
                        foreign.SendTo(ForbiddenPacket(i), new IPEndPoint(relayAddress, RtpPort));

                // s3 joins through the file.
                GenericRelayProcess.WriteConfig(config, renumbered ? "renumber" : "passthrough", Ssrc, upstream, receivers);
                await Eventually.TrueAsync(() => receivers[3].Count >= 50, "the added s3 receives the stream", TimeSpan.FromSeconds(20));

                // s3 leaves: the relay applies it (a status written after the edit no longer lists it), its map entries are
                // gone, nothing more reaches it. (A status file from before the edit would still say 3 without s3 being gone.)
                var s3Address = receivers[3].Endpoint.ToString();
                await GenericRelayProcess.WaitForStatusAsync(statusFile, s => s.Subscribers.Any(sub => sub.Address == s3Address && sub.Slot >= 0));
                var removedAt = DateTimeOffset.Now;
                GenericRelayProcess.WriteConfig(config, renumbered ? "renumber" : "passthrough", Ssrc, upstream, receivers.Take(3));
                await GenericRelayProcess.WaitForStatusAsync(statusFile, s => s.Updated > removedAt.AddMilliseconds(300) && s.Subscribers.Count == 3 && s.Subscribers.All(sub => sub.Address != s3Address));
                var s3AtRemoval = receivers[3].Count;
                if (mode == RelayMode.FastPath)
                {
                    var endpoints = await GenericRelayProcess.SubscriberEndpointsInKernelAsync(lab, prefix);
                    Assert.Equal(3, endpoints.Count);
                    Assert.DoesNotContain(FormatEndpoint(receivers[3].Endpoint), endpoints);
                }
                Assert.True(receivers[0].Count < 350, $"the stream ended before s3 was removed ({receivers[0].Count} packets): the test proves nothing about removal");

                var sent = await ffmpeg;
                Assert.True(sent.ExitCode == 0, "ffmpeg failed: " + sent.StandardError);
                // Wait until the last copies have landed: every full receiver has what the kernel counted for its slot.
                var status = await GenericRelayProcess.WaitForStatusAsync(statusFile, s => s.Subscribers.All(sub =>
                    receivers.First(r => FormatEndpoint(r.Endpoint) == sub.Address).Count == (int)sub.Forwarded));
                output.WriteLine($"kernel: {string.Join(", ", status.Kernel.Select(k => $"{k.Key}={k.Value}"))}");
                output.WriteLine($"received: {string.Join(", ", receivers.Select(r => $"{r.Name}={r.Count}"))}; s3 at removal {s3AtRemoval}");

                var upstreamMatched = (int)status.Kernel["upstream_matched"];
                Assert.True(upstreamMatched >= 390, $"ffmpeg's 8 s at 50 packets/s should be about 400 packets, the kernel matched {upstreamMatched}");
                Assert.True(status.Kernel["upstream_foreign_source"] >= 20, "the foreign sender's packets were not seen as foreign");

                var reference = receivers[0].Snapshot();
                foreach (var receiver in receivers.Take(3))
                {
                    var got = receiver.Snapshot();
                    // Every datagram the relay accepted, in order: numbered by the sender from its first, or renumbered from 0.
                    Assert.Equal(upstreamMatched, got.Count);
                    AssertIntactRtpRun(got, receiver.Name, expectedFirst: renumbered ? 0 : FirstSequence);
                    // Byte-identical across receivers that were there from the start (renumbered ones count alike too).
                    for (var i = 0; i < got.Count; i++)
                        Assert.True(got[i].AsSpan().SequenceEqual(reference[i]), $"{receiver.Name} datagram {i} differs from s0's");
                }
                var s3 = receivers[3].Snapshot();
                Assert.Equal(s3AtRemoval, s3.Count);
                // The late joiner: the sender's numbers from wherever it joined, or its own from 0.
                AssertIntactRtpRun(s3, "s3", expectedFirst: renumbered ? 0 : null);
                if (!renumbered)
                    Assert.True(BinaryPrimitives.ReadUInt16BigEndian(s3[0].AsSpan(2)) > FirstSequence + 40, "s3 joined mid-stream, so its first number is the sender's of that moment");
                Assert.True(s3.Count < upstreamMatched - 50, $"s3 got {s3.Count} of {upstreamMatched}: it was not removed mid-stream");
            }
            finally
            {
                output.WriteLine(await relay.StopAsync());
            }
            Assert.Contains("configuration reloaded", relay.Log);
            Assert.False(File.Exists(statusFile), "a relay that stopped cleanly removes its status file");
        }
        finally
        {
            foreach (var receiver in receivers)
                receiver.Dispose();
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Valid RTP (version 2, PCMU), the sequence advancing by one per datagram from <paramref name="expectedFirst"/>,
    /// the timestamp by the samples of the previous datagram, the configured SSRC, a payload of the 1 kHz sine at 8 kHz
    /// (period 8 samples: byte k equals byte k + 8), no packet of the foreign sender.</summary>
    private static void AssertIntactRtpRun(IReadOnlyList<byte[]> datagrams, string name, int? expectedFirst)
    {
        Assert.True(datagrams.Count > 0, $"{name} received nothing");
        for (var i = 0; i < datagrams.Count; i++)
        {
            var d = datagrams[i];
            Assert.True(d.Length > 12 && (d[0] & 0xC0) == 0x80 && (d[1] & 0x7F) == 0, $"{name} datagram {i} is not RTP PCMU");
            Assert.Equal(Ssrc, BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(8)));
            Assert.True(d.AsSpan().IndexOf(ForbiddenMarker) < 0, $"{name} received the foreign sender's datagram {i}");
            var payload = d.AsSpan(12);
            for (var k = 0; k + 8 < payload.Length; k++)
                Assert.True(payload[k] == payload[k + 8], $"{name} datagram {i}: payload byte {k} differs from byte {k + 8}");
            var sequence = BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2));
            if (i == 0)
            {
                if (expectedFirst is { } first)
                    Assert.Equal(first, sequence);
                continue;
            }
            var previous = datagrams[i - 1];
            Assert.Equal((ushort)(BinaryPrimitives.ReadUInt16BigEndian(previous.AsSpan(2)) + 1), sequence);
            Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(previous.AsSpan(4)) + (uint)(previous.Length - 12), BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(4)));
        }
    }

    private static byte[] ForbiddenPacket(int i)
    {
        var packet = new byte[12 + ForbiddenMarker.Length];
        packet[0] = 0x80;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)(5000 + i));
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(8), Ssrc);
        ForbiddenMarker.CopyTo(packet.AsSpan(12));
        return packet;
    }

    private static string FormatEndpoint(IPEndPoint endpoint) => endpoint.ToString();
}
