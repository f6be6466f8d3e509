using FastRelay.Cli.Fuzz;
using System.Buffers.Binary;
using System.Security.Cryptography;
using FastRelay.Bpf;
using FastRelay.Bpf.Crypto;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Tests.Packets;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Quic;
using FastRelay.Tests.Runtime;
using Xunit;
using static FastRelay.Tests.KernelCrypto.KernelCryptoFixtures;
using VethLab = FastRelay.Tests.Attach.VethLab;

namespace FastRelay.Tests.KernelCrypto;

/// <summary>
/// The forwarding prototype (bpf-templates/crypto/quic_forward.bpf.c) with real clones: upstream ingress runs through
/// BPF_PROG_TEST_RUN, its bpf_clone_redirect sends real clones out of a veth whose egress has quic_fwd_egress attached
/// (TCX), and each clone leaves sealed with its own subscriber's keys. Checked against the QUIC stack: every copy opens
/// with the subscriber's keys to the upstream plaintext under the subscriber's connection id and numbering, and is
/// byte-identical to what the stack would seal. A forged upstream packet produces no copy at all.
/// </summary>
[Collection(CryptoObjectsCollection.Name)]
public sealed class QuicForwardKernelTests(CryptoObjects objects, Xunit.Abstractions.ITestOutputHelper output)
{
    private const int PnOffset = 9; // first byte + 8-byte connection id
    private const int CopySize = 16 + 1536; // struct fr_quic_fwd_copy
    private static readonly byte[] RelayCid = [0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8];

    private sealed record Subscriber(int Slot, byte[] Cid, PacketKeys Keys, ulong FirstPn);

    private static (uint Len, ulong Pn, byte[] Packet) Copy(BpfObject obj, int index)
    {
        var value = new byte[CopySize];
        Assert.True(obj.Map("fr_quic_fwd_copies").TryLookup(BitConverter.GetBytes(index), value));
        uint len = BinaryPrimitives.ReadUInt32LittleEndian(value);
        return (len, BinaryPrimitives.ReadUInt64LittleEndian(value.AsSpan(8)), value.AsSpan(16, (int)len).ToArray());
    }

    private static ulong FwdStat(BpfObject obj, uint index) =>
        obj.Map("fr_quic_fwd_stats").LookupPerCpu<uint, ulong>(index).Aggregate(0UL, (a, b) => a + b);

    /// <summary>Upstream connection in slot 0, the subscribers in their slots, all cloned to <paramref name="device"/>.</summary>
    private static void Configure(BpfObject obj, QuicKernelCrypto crypto, RedirectDevice device, PacketKeys upstream, IReadOnlyList<Subscriber> subscribers) =>
        Configure(obj, crypto, (int)device.IfIndex, upstream, subscribers);

    private static void Configure(BpfObject obj, QuicKernelCrypto crypto, int ifindex, PacketKeys upstream, IReadOnlyList<Subscriber> subscribers)
    {
        Install(crypto, slot: 0, phase: 0, upstream);
        crypto.SetConnection(0, PnOffset, sendPhase: 0, largestPacketNumber: 0);
        var config = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(config.AsSpan(4), (uint)subscribers.Count); // upstream slot 0
        obj.Map("fr_quic_fwd_config").Update(BitConverter.GetBytes(0), config);
        for (int i = 0; i < subscribers.Count; i++)
        {
            var sub = subscribers[i];
            Install(crypto, sub.Slot, 0, sub.Keys);
            crypto.SetConnection(sub.Slot, PnOffset, sendPhase: 0, largestPacketNumber: sub.FirstPn - 1);
            var value = new byte[32];
            BinaryPrimitives.WriteUInt32LittleEndian(value, (uint)sub.Slot);
            BinaryPrimitives.WriteUInt32LittleEndian(value.AsSpan(4), (uint)ifindex);
            value[8] = (byte)sub.Cid.Length;
            sub.Cid.CopyTo(value, 9);
            obj.Map("fr_quic_fwd_subs").Update(BitConverter.GetBytes(i), value);
        }
    }

    [BpfTheory]
    [InlineData("ecb(aes)")]
    [InlineData("ecb(aes-generic)")]
    public void Cost_of_forwarding_a_1200_byte_packet_to_one_and_to_four_subscribers(string algorithm)
    {
        // The ingress test run includes the clones' egress programs (they run inside bpf_clone_redirect), so its
        // duration is one open plus, per subscriber, a clone and a seal. Repeated runs reuse the unchanged original.
        using var device = RedirectDevice.Create("frcy");
        using var upstream = RandomKeys();
        var payload = new byte[1200 - PnOffset - 4 - TagLength];
        var perCount = new Dictionary<int, uint>();
        foreach (var count in new[] { 1, 4 })
        {
            using var obj = QuicKernelCrypto.OpenAndLoad(objects.ObjectPath("quic_forward.bpf.c"));
            var crypto = new QuicKernelCrypto(obj, algorithm);
            using var egress = TcAttach.Attach(obj.Program("quic_fwd_egress"), (int)device.IfIndex, TcDirection.Egress, TcAttachMode.Tcx);
            var subscribers = Enumerable.Range(1, count).Select(i => new Subscriber(i, [.. RelayCid[..7], (byte)i], RandomKeys(), 1)).ToList();
            try
            {
                Configure(obj, crypto, device, upstream, subscribers);
                var frame = new PacketBuilder().Build(StackSeal(RelayCid, 7, payload, upstream));
                const int repeat = 500;
                var run = obj.Program("quic_fwd_ingress").TestRun(frame, repeat: repeat);
                Assert.Equal(0, run.ReturnValue);
                Assert.Equal((ulong)(repeat * count), FwdStat(obj, 1)); // every run sealed every copy
                perCount[count] = run.DurationNanoseconds;
                output.WriteLine($"{algorithm}: open once + {count} sealed copies of a 1200-byte packet: {run.DurationNanoseconds} ns per upstream packet (mean of {repeat})");
            }
            finally
            {
                foreach (var sub in subscribers) sub.Keys.Dispose();
            }
        }
        output.WriteLine($"{algorithm}: marginal cost per copy: {(perCount[4] - (double)perCount[1]) / 3:F0} ns");
    }

    [BpfFact]
    public void Sealed_clones_cross_a_veth_and_reach_a_udp_socket_with_valid_checksums()
    {
        // The prototype does not rewrite addresses, so the upstream packet is addressed to the receiving namespace
        // already; everything else is real: ingress runs in namespace A, its clones leave A's veth through
        // quic_fwd_egress, and B's UDP stack (receive checksum offload off, so it verifies in software) delivers them.
        using var lab = new FastRelay.Tests.Attach.VethLab("frcy");
        VethLab.Run("ip", "netns", "exec", lab.NsB, "ethtool", "-K", lab.DevB, "rx", "off");
        using var obj = QuicKernelCrypto.OpenAndLoad(objects.ObjectPath("quic_forward.bpf.c"));
        var crypto = new QuicKernelCrypto(obj);
        using var egress = lab.A.Run(() => TcAttach.Attach(obj.Program("quic_fwd_egress"), lab.IfindexA, TcDirection.Egress, TcAttachMode.Tcx));
        using var socket = lab.B.Run(() =>
        {
            var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
            s.Bind(new System.Net.IPEndPoint(FastRelay.Tests.Attach.VethLab.AddrB, 0));
            s.ReceiveTimeout = 10_000;
            return s;
        });
        var port = (ushort)((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;

        using var upstream = RandomKeys();
        var subscribers = new List<Subscriber>
        {
            new(1, [0xc1, 1, 1, 1, 1, 1, 1, 1], RandomKeys(), 10),
            new(2, [0xc2, 2, 2, 2, 2, 2, 2, 2], RandomKeys(), 500),
        };
        try
        {
            Configure(obj, crypto, lab.IfindexA, upstream, subscribers);
            var builder = new PacketBuilder
            {
                SourceMac = Convert.FromHexString(FastRelay.Tests.Attach.VethLab.MacA.Replace(":", "")),
                DestinationMac = Convert.FromHexString(FastRelay.Tests.Attach.VethLab.MacB.Replace(":", "")),
                Source = FastRelay.Tests.Attach.VethLab.AddrA,
                Destination = FastRelay.Tests.Attach.VethLab.AddrB,
                SourcePort = 4433,
                DestinationPort = port,
            };
            var payloads = new[] { 100, 700, 1300 }.Select(n => Enumerable.Range(0, n).Select(i => (byte)(i + n)).ToArray()).ToList();
            for (int p = 0; p < payloads.Count; p++)
            {
                var run = lab.A.Run(() => obj.Program("quic_fwd_ingress").TestRun(builder.Build(StackSeal(RelayCid, (uint)(20 + p), payloads[p], upstream))));
                Assert.Equal(0, run.ReturnValue);
            }

            var received = new List<byte[]>();
            var buffer = new byte[2048];
            for (int i = 0; i < payloads.Count * subscribers.Count; i++)
            {
                int n = socket.Receive(buffer); // throws on the timeout: a copy that never arrived
                received.Add(buffer.AsSpan(0, n).ToArray());
            }
            foreach (var sub in subscribers)
            {
                var mine = received.Where(d => d.AsSpan(1, 8).SequenceEqual(sub.Cid)).ToList();
                Assert.Equal(payloads.Count, mine.Count);
                ulong? largest = sub.FirstPn - 1;
                for (int p = 0; p < payloads.Count; p++)
                {
                    var datagram = mine[p];
                    Assert.True(PacketProtection.TryUnprotect(datagram, PnOffset, largest, sub.Keys, out ulong pn, out int offset, out int length, out var error),
                        error.ToString());
                    Assert.Equal(sub.FirstPn + (ulong)p, pn);
                    Assert.Equal(Hex.Of(payloads[p]), Hex.Of(datagram.AsSpan(offset, length)));
                    largest = pn;
                }
            }
            var snmp = VethLab.Run("ip", "netns", "exec", lab.NsB, "cat", "/proc/net/snmp");
            var udp = snmp.Split('\n').Where(l => l.StartsWith("Udp:", StringComparison.Ordinal)).ToList();
            var names = udp[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var values = udp[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("0", values[Array.IndexOf(names, "InCsumErrors")]);
        }
        finally
        {
            foreach (var sub in subscribers) sub.Keys.Dispose();
        }
    }

    [BpfFact]
    public void Each_clone_of_an_authenticated_upstream_packet_leaves_sealed_with_its_subscribers_keys()
    {
        using var device = RedirectDevice.Create("frcy");
        using var obj = QuicKernelCrypto.OpenAndLoad(objects.ObjectPath("quic_forward.bpf.c"));
        var crypto = new QuicKernelCrypto(obj);
        using var egress = TcAttach.Attach(obj.Program("quic_fwd_egress"), (int)device.IfIndex, TcDirection.Egress, TcAttachMode.Tcx);

        using var upstream = RandomKeys();
        var subscribers = new[]
        {
            new Subscriber(1, [0xb1, 1, 1, 1, 1, 1, 1, 1], RandomKeys(), 100),
            new Subscriber(2, [0xb2, 2, 2, 2, 2, 2, 2, 2], RandomKeys(), 2000),
            new Subscriber(3, [0xb3, 3, 3, 3, 3, 3, 3, 3], RandomKeys(), 0),
        };
        Configure(obj, crypto, device, upstream, subscribers);

        try
        {
            ulong leftBefore = device.TxDropped;
            for (uint n = 0; n < 4; n++)
            {
                if (n == 2)
                {
                    // Subscriber 2's stack updates its keys: the next copies carry key phase 1 under the new keys.
                    var next = subscribers[1].Keys.DeriveNextGeneration();
                    Install(crypto, 2, 1, next, hpFrom: subscribers[1].Keys);
                    crypto.SetSendPhase(2, 1);
                    subscribers[1] = subscribers[1] with { Keys = next };
                }
                var payload = Enumerable.Range(0, 300 + (int)n * 380).Select(i => (byte)(i * 3 + n)).ToArray();
                var original = new PacketBuilder().Build(StackSeal(RelayCid, 50 + n, payload, upstream));
                var run = obj.Program("quic_fwd_ingress").TestRun(original);
                Assert.Equal(0, run.ReturnValue);
                Assert.Equal(Hex.Of(original), Hex.Of(run.Output.AsSpan(0, original.Length))); // the original goes up encrypted, untouched

                for (int i = 0; i < subscribers.Length; i++)
                {
                    var sub = subscribers[i];
                    var (len, pn, copy) = Copy(obj, i);
                    Assert.Equal(sub.FirstPn + n, pn);
                    Assert.Equal(Hex.Of(StackSeal(sub.Cid, (uint)pn, payload, sub.Keys)), Hex.Of(copy));
                    var opened = copy.ToArray();
                    Assert.True(PacketProtection.TryUnprotect(opened, PnOffset, pn - 1, sub.Keys, out ulong openedPn, out int offset, out int length, out var error),
                        error.ToString());
                    Assert.Equal(pn, openedPn);
                    Assert.Equal(Hex.Of(sub.Cid), Hex.Of(opened.AsSpan(1, 8)));
                    Assert.Equal(Hex.Of(payload), Hex.Of(opened.AsSpan(offset, length)));
                }
            }
            Assert.Equal(12UL, FwdStat(obj, 1));                 // sealed
            Assert.Equal(leftBefore + 12, device.TxDropped);     // and every one of them left the device

            // A forged upstream packet: authenticated in the kernel before anything is cloned, so nothing leaves.
            var forged = StackSeal(RelayCid, 60, new byte[200], upstream);
            forged[40] ^= 0x01;
            var before = Copy(obj, 0);
            var forgedRun = obj.Program("quic_fwd_ingress").TestRun(new PacketBuilder().Build(forged));
            Assert.Equal(0, forgedRun.ReturnValue);
            Assert.Equal(1UL, FwdStat(obj, 2));                  // not authentic
            Assert.Equal(12UL, FwdStat(obj, 0));                 // no new clone
            Assert.Equal(leftBefore + 12, device.TxDropped);
            Assert.Equal(before.Pn, Copy(obj, 0).Pn);
        }
        finally
        {
            foreach (var sub in subscribers) sub.Keys.Dispose();
        }
    }
}
