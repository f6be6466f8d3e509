using System.Net;
using System.Net.Sockets;
using FastRelay.Protocols.Quic.Io;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace FastRelay.Tests.Quic.Io;

/// <summary>
/// The batched UDP socket over real loopback sockets: many datagrams per system call, UDP GSO super-packets on send,
/// UDP GRO on receive, and the fall-back when the kernel refuses segmentation. Every datagram carries its own index
/// and a pattern derived from it, so a lost, reordered, merged or corrupted one fails the byte-exact comparison.
/// </summary>
public sealed class DatagramSocketTests
{
    private const int SolSocket = 1, SoNoCheck = 11;

    private static (DatagramSocket Socket, IPEndPoint EndPoint) Open(AddressFamily family, bool segmentation, bool coalescing,
        Action<Socket>? configure = null, IPAddress? bind = null)
    {
        var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        configure?.Invoke(socket);
        // Room for a whole test round in flight: the receiver drains only after each batch is sent.
        socket.ReceiveBufferSize = 8 << 20;
        socket.Bind(new IPEndPoint(bind ?? (family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback), 0));
        return (new DatagramSocket(socket, 16, segmentation, coalescing, NullLogger.Instance), (IPEndPoint)socket.LocalEndPoint!);
    }

    private static byte[] Datagram(int index, int length)
    {
        var bytes = new byte[length];
        BitConverter.TryWriteBytes(bytes, index);
        for (int i = 4; i < length; i++) bytes[i] = (byte)(index * 31 + i * 7);
        return bytes;
    }

    /// <summary>
    /// Batches like a QUIC burst: runs of full-sized datagrams, some ending in a shorter one, some of one datagram, and a
    /// batch of varied sizes (no run longer than one).
    /// </summary>
    private static List<int[]> Batches()
    {
        var batches = new List<int[]>();
        var random = new Random(1234);
        for (int b = 0; b < 60; b++)
        {
            int count = b % 7 == 0 ? 1 : random.Next(2, DatagramSocket.MaxBatch + 1);
            var lengths = new int[count];
            for (int i = 0; i < count; i++) lengths[i] = 1200;
            if (b % 3 == 0) lengths[^1] = random.Next(20, 1200);              // a shorter last segment
            if (b % 5 == 0) for (int i = 0; i < count; i++) lengths[i] = random.Next(20, 1400); // no common size
            if (b % 11 == 0 && count > 4) lengths[count / 2] = 1300;            // a longer one breaks the run
            batches.Add(lengths);
        }
        return batches;
    }

    /// <summary>Sends every batch and receives it completely before the next (so no socket buffer ever overflows).</summary>
    private static async Task<(int Datagrams, int CoalescedMessages)> ExchangeAsync(DatagramSocket sender, DatagramSocket receiver, IPEndPoint to,
        bool allowSegmentation)
    {
        var address = to.Serialize();
        int index = 0, coalesced = 0;
        foreach (var lengths in Batches())
        {
            var expected = new List<byte[]>();
            var buffer = new MemoryStream();
            foreach (int length in lengths)
            {
                var datagram = Datagram(index++, length);
                expected.Add(datagram);
                buffer.Write(datagram);
            }
            sender.SendBatch(buffer.ToArray(), lengths, address, allowSegmentation);
            var received = new List<byte[]>();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (received.Count < expected.Count)
            {
                Assert.True(DateTime.UtcNow < deadline, $"only {received.Count} of {expected.Count} datagrams arrived");
                int slots = receiver.Receive();
                if (slots == 0)
                {
                    await Task.Delay(1);
                    continue;
                }
                for (int s = 0; s < slots; s++)
                {
                    var (data, segment, _) = receiver.Received(s);
                    if (segment > 0 && segment < data.Length) coalesced++;
                    int step = segment > 0 ? segment : data.Length;
                    for (int offset = 0; offset < data.Length; offset += step)
                        received.Add(data.Span.Slice(offset, Math.Min(step, data.Length - offset)).ToArray());
                    Assert.Equal(sender.LocalEndPoint.Port, ((IPEndPoint)receiver.LocalEndPoint.Create(receiver.Source(s))).Port);
                }
            }
            Assert.Equal(expected.Count, received.Count);
            for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i], received[i]);
        }
        return (index, coalesced);
    }

    [Theory]
    [InlineData(AddressFamily.InterNetwork)]
    [InlineData(AddressFamily.InterNetworkV6)]
    public async Task Segmented_batches_arrive_byte_exact_as_separate_datagrams_in_far_fewer_system_calls(AddressFamily family)
    {
        var (sender, _) = Open(family, segmentation: true, coalescing: false);
        var (receiver, at) = Open(family, segmentation: false, coalescing: false);
        using (sender)
        using (receiver)
        {
            Assert.True(sender.SegmentationOffload, "this kernel (Linux 6.x) has UDP GSO");
            var (datagrams, coalesced) = await ExchangeAsync(sender, receiver, at, allowSegmentation: true);
            Assert.Equal(0, coalesced);
            Assert.True(sender.SegmentedMessages >= 30, $"{sender.SegmentedMessages} super-packets");
            // One call per batch (a batch of one datagram is one sendto): nowhere near one per datagram.
            Assert.True(sender.SendCalls <= Batches().Count, $"{sender.SendCalls} send calls for {datagrams} datagrams");
            Assert.True(receiver.ReceiveCalls < datagrams / 4, $"{receiver.ReceiveCalls} receive calls for {datagrams} datagrams");
            Assert.True(sender.SegmentationOffload);
        }
    }

    [Fact]
    public async Task A_coalescing_receiver_reads_super_packets_whole_and_they_split_into_the_original_datagrams()
    {
        var (sender, _) = Open(AddressFamily.InterNetwork, segmentation: true, coalescing: false);
        var (receiver, at) = Open(AddressFamily.InterNetwork, segmentation: false, coalescing: true);
        using (sender)
        using (receiver)
        {
            Assert.True(receiver.ReceiveCoalescing);
            var (_, coalesced) = await ExchangeAsync(sender, receiver, at, allowSegmentation: true);
            // Loopback hands a GSO super-packet to a GRO socket as it is: many slots hold several datagrams.
            Assert.True(coalesced >= 30, $"{coalesced} coalesced reads");
        }
    }

    [Fact]
    public async Task A_batch_that_must_not_be_segmented_leaves_as_separate_datagrams_even_to_a_coalescing_receiver()
    {
        var (sender, _) = Open(AddressFamily.InterNetwork, segmentation: true, coalescing: false);
        var (receiver, at) = Open(AddressFamily.InterNetwork, segmentation: false, coalescing: true);
        using (sender)
        using (receiver)
        {
            var (datagrams, coalesced) = await ExchangeAsync(sender, receiver, at, allowSegmentation: false);
            Assert.Equal(0, coalesced);
            Assert.Equal(0, sender.SegmentedMessages);
            Assert.True(sender.SendCalls <= Batches().Count, $"{sender.SendCalls} send calls for {datagrams} datagrams (sendmmsg)");
            Assert.True(sender.SegmentationOffload, "not sending segmented is not a refusal");
        }
    }

    [Fact]
    public async Task When_the_kernel_refuses_segmentation_every_datagram_still_arrives_and_segmentation_stays_off()
    {
        // SO_NO_CHECK (no UDP checksum): the kernel answers every segmented send with EINVAL — a real refusal.
        var (sender, _) = Open(AddressFamily.InterNetwork, segmentation: true, coalescing: false,
            s => s.SetRawSocketOption(SolSocket, SoNoCheck, BitConverter.GetBytes(1)));
        var (receiver, at) = Open(AddressFamily.InterNetwork, segmentation: false, coalescing: false);
        using (sender)
        using (receiver)
        {
            Assert.True(sender.SegmentationOffload);
            await ExchangeAsync(sender, receiver, at, allowSegmentation: true);
            Assert.False(sender.SegmentationOffload, "refused repeatedly: off for this socket");
            Assert.Equal(0, sender.SegmentedMessages);
        }
    }

    [Fact]
    public async Task A_dual_mode_socket_sends_segmented_batches_to_an_ipv4_address_and_reads_ipv4_senders()
    {
        // A relay listening on [::] talks to IPv4 peers through v4-mapped addresses (what its receive reported) or a
        // plain IPv4 address (what a caller serialised): the native calls take both.
        var (sender, _) = Open(AddressFamily.InterNetworkV6, segmentation: true, coalescing: true, s =>
        {
            s.DualMode = true;
        }, IPAddress.IPv6Any);
        var (receiver, at) = Open(AddressFamily.InterNetwork, segmentation: false, coalescing: true);
        using (sender)
        using (receiver)
        {
            var (_, coalesced) = await ExchangeAsync(sender, receiver, at, allowSegmentation: true);
            Assert.True(coalesced > 0);
            Assert.True(sender.SegmentationOffload);
        }
        var (v4sender, _) = Open(AddressFamily.InterNetwork, segmentation: true, coalescing: false);
        var (dual, dualAt) = Open(AddressFamily.InterNetworkV6, segmentation: false, coalescing: true, s => s.DualMode = true, IPAddress.IPv6Any);
        using (v4sender)
        using (dual)
        {
            var (_, coalesced) = await ExchangeAsync(v4sender, dual, new IPEndPoint(IPAddress.Loopback, dualAt.Port), allowSegmentation: true);
            Assert.True(coalesced > 0);
        }
    }

    [Fact]
    public void Without_a_sender_nothing_is_received_and_the_call_returns_at_once()
    {
        var (receiver, _) = Open(AddressFamily.InterNetwork, segmentation: false, coalescing: true);
        using (receiver)
        {
            // recvmmsg with MSG_DONTWAIT: the endpoint's loop owns timers and must never block here.
            var started = DateTime.UtcNow;
            Assert.Equal(0, receiver.Receive());
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
        }
    }

    [Theory]
    [InlineData(AddressFamily.InterNetwork)]
    [InlineData(AddressFamily.InterNetworkV6)]
    public async Task Datagrams_to_several_addresses_leave_in_one_call_each_at_its_own_address_with_its_own_ecn_mark(AddressFamily family)
    {
        var (sender, _) = Open(family, segmentation: true, coalescing: false);
        var receivers = Enumerable.Range(0, 3).Select(_ => Open(family, segmentation: false, coalescing: false)).ToList();
        using (sender)
        try
        {
            // Seven datagrams of varied sizes, to the three receivers in turn, the ECN mark varying too (0, ECT(1), ECT(0)).
            int[] lengths = [1200, 40, 1350, 600, 1200, 1200, 99];
            var datagrams = lengths.Select((length, i) => Datagram(i, length)).ToList();
            var to = lengths.Select((_, i) => receivers[i % 3].EndPoint.Serialize()).ToArray();
            var ecn = lengths.Select((_, i) => (byte)(i % 3)).ToArray();
            var calls = sender.SendCalls;
            sender.SendEach(datagrams.SelectMany(d => d).ToArray(), lengths, to, ecn);
            Assert.Equal(calls + 1, sender.SendCalls);
            Assert.Equal(0, sender.SegmentedMessages); // never segmented, even where sizes repeat

            for (int r = 0; r < 3; r++)
            {
                var (receiver, _) = receivers[r];
                var expected = Enumerable.Range(0, lengths.Length).Where(i => i % 3 == r).ToList();
                var got = new List<(byte[] Data, byte Ecn)>();
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
                while (got.Count < expected.Count)
                {
                    Assert.True(DateTime.UtcNow < deadline, $"receiver {r}: {got.Count} of {expected.Count} datagrams");
                    int slots = receiver.Receive();
                    if (slots == 0) { await Task.Delay(1); continue; }
                    for (int s = 0; s < slots; s++)
                    {
                        var (data, _, mark) = receiver.Received(s);
                        got.Add((data.ToArray(), mark));
                    }
                }
                Assert.Equal(expected.Select(i => datagrams[i]), got.Select(g => g.Data));
                if (receiver.ReadsEcn) Assert.Equal(expected.Select(i => ecn[i]), got.Select(g => g.Ecn));
            }
        }
        finally
        {
            foreach (var (receiver, _) in receivers) receiver.Dispose();
        }
    }
}
