using System.Security.Cryptography;
using FastRelay.Bpf;
using FastRelay.Bpf.Crypto;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Tests.Packets;
using FastRelay.Tests.Quic;
using FastRelay.Tests.Runtime;
using Xunit;
using Xunit.Abstractions;
using static FastRelay.Tests.KernelCrypto.KernelCryptoFixtures;

namespace FastRelay.Tests.KernelCrypto;

/// <summary>
/// QUIC AES-128-GCM packet protection in TC (bpf-templates/crypto/quic_aead.bpf.c) through BPF_PROG_TEST_RUN on real
/// frames: RFC 9001 Appendix A byte for byte, packets the kernel seals open with the QUIC stack's own
/// <see cref="PacketProtection"/> and the reverse, byte-identical to what the stack seals, sizes up to a full 1500-byte
/// IP packet, a key update in the middle of a sequence, and forged packets refused without a byte changed.
/// </summary>
[Collection(CryptoObjectsCollection.Name)]
public sealed class QuicAeadKernelTests(CryptoObjects objects, ITestOutputHelper output)
{
    private const int ShortPnOffset = 9;     // first byte + 8-byte DCID
    private const int Shot = 2;              // TC_ACT_SHOT
    private static readonly byte[] Dcid = [0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8];

    private sealed class Kernel : IDisposable
    {
        public Kernel(string path, string algorithm = QuicKernelCrypto.DefaultAlgorithm)
        {
            Object = QuicKernelCrypto.OpenAndLoad(path);
            Crypto = new QuicKernelCrypto(Object, algorithm);
        }

        public BpfObject Object { get; }
        public QuicKernelCrypto Crypto { get; }

        /// <summary>The UDP payload after quic_seal / quic_open ran on it for connection <paramref name="slot"/>.</summary>
        public (int Verdict, byte[] Quic, BpfTestRunResult Run) Run(string program, byte[] quicPacket, uint slot = 0, int repeat = 1) =>
            Run(program, quicPacket, new PacketBuilder(), slot, repeat);

        /// <summary>The same over a frame of <paramref name="builder"/> (IPv6, no UDP checksum, ...).</summary>
        public (int Verdict, byte[] Quic, BpfTestRunResult Run) Run(string program, byte[] quicPacket, PacketBuilder builder, uint slot = 0, int repeat = 1)
        {
            var frame = builder.Build(quicPacket);
            var run = Object.Program(program).TestRun(frame, new SkbContext { Mark = slot }, repeat);
            int offset = frame.Length - quicPacket.Length;
            return (run.ReturnValue, run.Output.AsSpan(offset, quicPacket.Length).ToArray(), run);
        }

        public void Dispose() => Object.Dispose();
    }

    private Kernel Load(string algorithm = QuicKernelCrypto.DefaultAlgorithm) => new(objects.ObjectPath("quic_aead.bpf.c"), algorithm);

    private static byte[] ShortPlain(uint pn, byte[] payload, bool keyPhase = false) => KernelCryptoFixtures.ShortPlain(Dcid, pn, payload, keyPhase);

    private static byte[] StackSeal(uint pn, byte[] payload, PacketKeys keys) => KernelCryptoFixtures.StackSeal(Dcid, pn, payload, keys);

    private static byte[] Payload(int length, int seed) => Enumerable.Range(0, length).Select(i => (byte)(seed * 31 + i * 7)).ToArray();

    /// <summary>The stack opens <paramref name="packet"/> (a copy) and returns its packet number and plaintext.</summary>
    private static (ulong Pn, byte[] Payload) StackOpen(byte[] packet, PacketKeys keys, ulong? largest)
    {
        var copy = packet.ToArray();
        Assert.True(PacketProtection.TryRemoveHeaderProtection(copy, ShortPnOffset, keys.HeaderProtection, out int pnLength, out uint truncated, out var error),
            error.ToString());
        ulong pn = FastRelay.Protocols.Quic.Wire.PacketNumber.Decode(largest, truncated, pnLength);
        Assert.True(PacketProtection.TryDecryptPayload(copy, ShortPnOffset, pnLength, pn, keys.Aead, out int offset, out int length, out error),
            error.ToString());
        return (pn, copy.AsSpan(offset, length).ToArray());
    }

    [BpfFact]
    public void The_client_initial_of_rfc9001_appendix_a2_is_sealed_byte_for_byte_and_opens_again()
    {
        using var kernel = Load();
        var (client, server) = PacketKeys.CreateInitial(Hex.Parse("8394c8f03e515708"));
        using (client)
        using (server)
        {
            Install(kernel.Crypto, slot: 0, phase: 0, client);
            kernel.Crypto.SetConnection(0, packetNumberOffset: 18, sendPhase: 0, largestPacketNumber: 0);
            var header = Hex.Parse("c300000001088394c8f03e5157080000449e00000002");
            var plain = new byte[1200];
            header.CopyTo(plain, 0);
            Hex.Parse(Rfc9001VectorTests.ClientCryptoFrame).CopyTo(plain, header.Length); // then PADDING (zeros), then the tag's room

            var (verdict, sealedPacket, _) = kernel.Run("quic_seal", plain);
            Assert.Equal(0, verdict);
            Assert.Equal(Hex.Of(Hex.Parse(Rfc9001VectorTests.ClientProtected)), Hex.Of(sealedPacket));

            kernel.Crypto.SetConnection(0, packetNumberOffset: 18, sendPhase: 0, largestPacketNumber: 0);
            var (openVerdict, opened, _) = kernel.Run("quic_open", Hex.Parse(Rfc9001VectorTests.ClientProtected));
            Assert.Equal(0, openVerdict);
            Assert.Equal(Hex.Of(plain.AsSpan(0, 1200 - TagLength)), Hex.Of(opened.AsSpan(0, 1200 - TagLength)));
            Assert.Equal(2UL, kernel.Crypto.LargestPacketNumber(0));
            Assert.Equal(new QuicKernelCryptoStats(1, 1, 0, 0, 0, 0), kernel.Crypto.ReadStats());
        }
    }

    [BpfFact]
    public void The_server_initial_of_rfc9001_appendix_a3_with_a_two_byte_packet_number_is_sealed_byte_for_byte()
    {
        using var kernel = Load();
        var (client, server) = PacketKeys.CreateInitial(Hex.Parse("8394c8f03e515708"));
        using (client)
        using (server)
        {
            Install(kernel.Crypto, slot: 1, phase: 0, server);
            kernel.Crypto.SetConnection(1, packetNumberOffset: 18, sendPhase: 0, largestPacketNumber: 0);
            var header = Hex.Parse("c1000000010008f067a5502a4262b50040750001");
            var payload = Hex.Parse(Rfc9001VectorTests.ServerPayload);
            var plain = new byte[header.Length + payload.Length + TagLength];
            header.CopyTo(plain, 0);
            payload.CopyTo(plain, header.Length);

            var (verdict, sealedPacket, _) = kernel.Run("quic_seal", plain, slot: 1);
            Assert.Equal(0, verdict);
            Assert.Equal(Hex.Of(Hex.Parse(Rfc9001VectorTests.ServerProtected)), Hex.Of(sealedPacket));
        }
    }

    // 1443 bytes of payload: a 1500-byte IPv4 packet (20 + 8 + 13-byte header + 1443 + 16-byte tag).
    [BpfTheory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(100)]
    [InlineData(1000)]
    [InlineData(1200)]
    [InlineData(1443)]
    public void Kernel_sealed_packets_equal_the_stacks_bytes_and_stack_sealed_packets_open_in_the_kernel(int length)
    {
        using var kernel = Load();
        using var keys = RandomKeys();
        Install(kernel.Crypto, slot: 3, phase: 0, keys);
        kernel.Crypto.SetConnection(3, ShortPnOffset, sendPhase: 0, largestPacketNumber: 1000);
        var payload = Payload(length, length);
        uint pn = 1001;

        var (verdict, sealedPacket, _) = kernel.Run("quic_seal", ShortPlain(pn, payload), slot: 3);
        Assert.Equal(0, verdict);
        Assert.Equal(Hex.Of(StackSeal(pn, payload, keys)), Hex.Of(sealedPacket));
        var (openedPn, opened) = StackOpen(sealedPacket, keys, largest: 1000);
        Assert.Equal(pn, openedPn);
        Assert.Equal(Hex.Of(payload), Hex.Of(opened));

        var fromStack = StackSeal(pn + 1, payload, keys);
        var (openVerdict, plain, _) = kernel.Run("quic_open", fromStack, slot: 3);
        Assert.Equal(0, openVerdict);
        Assert.Equal(Hex.Of(ShortPlain(pn + 1, payload).AsSpan(0, fromStack.Length - TagLength)), Hex.Of(plain.AsSpan(0, fromStack.Length - TagLength)));
        Assert.Equal((ulong)pn + 1, kernel.Crypto.LargestPacketNumber(3));
        Assert.Equal(new QuicKernelCryptoStats(1, 1, 0, 0, 0, 0), kernel.Crypto.ReadStats());
    }

    [BpfTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void Seal_and_open_keep_the_udp_checksum_valid(bool v6)
    {
        using var kernel = Load();
        using var keys = RandomKeys();
        Install(kernel.Crypto, slot: 0, phase: 0, keys);
        kernel.Crypto.SetConnection(0, ShortPnOffset, sendPhase: 0, largestPacketNumber: 0);
        var builder = v6
            ? new PacketBuilder { Source = System.Net.IPAddress.Parse("fd00::1"), Destination = System.Net.IPAddress.Parse("fd00::2") }
            : new PacketBuilder();
        // Every remainder modulo 4 of the packet length (the checksum's tail word), and both sides of a 512-byte chunk.
        foreach (var length in new[] { 100, 101, 102, 103, 482, 483, 1200, 1443 })
        {
            var payload = Payload(length, length);
            uint pn = (uint)length;
            var seal = kernel.Run("quic_seal", ShortPlain(pn, payload), builder);
            Assert.Equal(0, seal.Verdict);
            var frame = seal.Run.Output;
            Assert.Equal(Checksums.Udp(frame), ParsedFrame.Parse(frame).UdpChecksumField(frame));
            var open = kernel.Run("quic_open", StackSeal(pn + 5000, payload, keys), builder);
            Assert.Equal(0, open.Verdict);
            frame = open.Run.Output;
            Assert.Equal(Checksums.Udp(frame), ParsedFrame.Parse(frame).UdpChecksumField(frame));
        }
        if (!v6)
        {
            // An IPv4 datagram sent without a checksum keeps none.
            var seal = kernel.Run("quic_seal", ShortPlain(9000, Payload(300, 1)), new PacketBuilder { UdpChecksum = false });
            Assert.Equal(0, seal.Verdict);
            Assert.Equal(0, ParsedFrame.Parse(seal.Run.Output).UdpChecksumField(seal.Run.Output));
        }
    }

    [BpfFact]
    public void Aes_256_gcm_connections_seal_and_open_like_the_stack_including_a_key_update()
    {
        // TLS_AES_256_GCM_SHA384: 32-byte keys through the same programs (ecb(aes) takes the key length it is given).
        using var kernel = Load();
        using var gen0 = RandomKeys(CipherSuite.Aes256GcmSha384);
        using var gen1 = gen0.DeriveNextGeneration();
        Install(kernel.Crypto, slot: 4, phase: 0, gen0);
        kernel.Crypto.SetConnection(4, ShortPnOffset, sendPhase: 0, largestPacketNumber: 0);
        foreach (var (pn, keys) in new[] { (1u, gen0), (2u, gen0), (3u, gen1), (4u, gen1) })
        {
            if (pn == 3)
            {
                Install(kernel.Crypto, slot: 4, phase: 1, gen1, hpFrom: gen0);
                kernel.Crypto.SetSendPhase(4, 1);
            }
            var payload = Payload(400 + (int)pn * 100, (int)pn);
            var (verdict, sealedPacket, _) = kernel.Run("quic_seal", ShortPlain(pn, payload), slot: 4);
            Assert.Equal(0, verdict);
            Assert.Equal(Hex.Of(StackSeal(pn, payload, keys)), Hex.Of(sealedPacket));
            var fromStack = StackSeal(pn + 100, payload, keys);
            var (openVerdict, plain, _) = kernel.Run("quic_open", fromStack, slot: 4);
            Assert.Equal(0, openVerdict);
            Assert.Equal(Hex.Of(payload), Hex.Of(plain.AsSpan(ShortPnOffset + 4, payload.Length)));
        }
    }

    [BpfFact]
    public void A_key_update_in_the_middle_of_a_sequence_flips_the_key_phase_and_both_phases_open()
    {
        using var kernel = Load();
        using var gen0 = RandomKeys();
        using var gen1 = gen0.DeriveNextGeneration();
        using var gen2 = gen1.DeriveNextGeneration();
        Install(kernel.Crypto, slot: 2, phase: 0, gen0);
        kernel.Crypto.SetConnection(2, ShortPnOffset, sendPhase: 0, largestPacketNumber: 0);

        ulong? largest = null;
        for (uint pn = 1; pn <= 12; pn++)
        {
            if (pn == 5)
            {
                // The stack's key update: the next keys go into the other phase first, then sealing switches to them.
                Install(kernel.Crypto, slot: 2, phase: 1, gen1, hpFrom: gen0);
                kernel.Crypto.SetSendPhase(2, 1);
            }
            if (pn == 9)
            {
                Install(kernel.Crypto, slot: 2, phase: 0, gen2, hpFrom: gen0);
                kernel.Crypto.SetSendPhase(2, 0);
            }
            var expected = pn < 5 ? gen0 : pn < 9 ? gen1 : gen2;
            var payload = Payload(200 + (int)pn * 37, (int)pn);
            var (verdict, sealedPacket, _) = kernel.Run("quic_seal", ShortPlain(pn, payload), slot: 2);
            Assert.Equal(0, verdict);
            Assert.Equal(Hex.Of(StackSeal(pn, payload, expected)), Hex.Of(sealedPacket));
            var (openedPn, opened) = StackOpen(sealedPacket, expected, largest);
            Assert.Equal(pn, openedPn);
            Assert.Equal(Hex.Of(payload), Hex.Of(opened));
            largest = pn;
        }

        // Receiving: a packet of the new phase, and a late one of the previous phase, both open by their key phase bit.
        var late = StackSeal(7, Payload(300, 77), gen1);
        var (lateVerdict, latePlain, _) = kernel.Run("quic_open", late, slot: 2);
        Assert.Equal(0, lateVerdict);
        Assert.Equal(Hex.Of(Payload(300, 77)), Hex.Of(latePlain.AsSpan(13, 300)));
        Assert.Equal(0x47, latePlain[0]); // key phase 1, unprotected
        var current = StackSeal(13, Payload(300, 78), gen2);
        var (currentVerdict, currentPlain, _) = kernel.Run("quic_open", current, slot: 2);
        Assert.Equal(0, currentVerdict);
        Assert.Equal(Hex.Of(Payload(300, 78)), Hex.Of(currentPlain.AsSpan(13, 300)));
        Assert.Equal(0x43, currentPlain[0]);
        // A packet of the generation phase 0 held before the update no longer opens: its keys are gone.
        var stale = StackSeal(14, Payload(300, 79), gen0);
        Assert.Equal(Shot, kernel.Run("quic_open", stale, slot: 2).Verdict);
        Assert.Equal(new QuicKernelCryptoStats(12, 2, 1, 0, 0, 0), kernel.Crypto.ReadStats());
    }

    [BpfFact]
    public void Forged_or_corrupted_packets_are_refused_and_left_unchanged()
    {
        using var kernel = Load();
        using var keys = RandomKeys();
        using var other = RandomKeys();
        Install(kernel.Crypto, slot: 0, phase: 0, keys);
        kernel.Crypto.SetConnection(0, ShortPnOffset, sendPhase: 0, largestPacketNumber: 0);
        var genuine = StackSeal(1, Payload(500, 1), keys);
        Assert.Equal(0, kernel.Run("quic_open", genuine).Verdict);

        var forgeries = new List<byte[]>();
        foreach (var at in new[] { 20, 13 + 499, genuine.Length - 1, genuine.Length - TagLength })
        {
            var bad = genuine.ToArray();
            bad[at] ^= 0x01; // one bit of ciphertext or tag
            forgeries.Add(bad);
        }
        var header = genuine.ToArray();
        header[3] ^= 0x80; // the DCID is authenticated data
        forgeries.Add(header);
        forgeries.Add(StackSeal(1, Payload(500, 1), other)); // sealed with someone else's keys
        foreach (var forged in forgeries)
        {
            var (verdict, after, _) = kernel.Run("quic_open", forged);
            Assert.Equal(Shot, verdict);
            Assert.Equal(Hex.Of(forged), Hex.Of(after));
        }
        // Key phase 1 has no keys installed: refused as such, not as a failed tag.
        var phase1 = StackSeal(2, Payload(100, 2), keys.DeriveNextGeneration());
        Assert.Equal(Shot, kernel.Run("quic_open", phase1).Verdict);
        // A changed bit inside the header protection sample (or foreign keys) changes the mask, so the unmasked key
        // phase bit may point at phase 1, whose keys are missing: such a forgery is counted as NoKeys, not AuthFailed.
        var stats = kernel.Crypto.ReadStats();
        Assert.Equal(1UL, stats.Opened);
        Assert.Equal((ulong)forgeries.Count + 1, stats.AuthFailed + stats.NoKeys);
        Assert.True(stats.AuthFailed >= 4, $"{stats}: the four changes outside the sample must fail their tag");
    }

    [BpfFact]
    public void Packets_too_short_to_sample_fragments_or_for_unknown_connections_are_left_alone()
    {
        using var kernel = Load();
        using var keys = RandomKeys();
        Install(kernel.Crypto, slot: 0, phase: 0, keys);
        kernel.Crypto.SetConnection(0, ShortPnOffset, sendPhase: 0, largestPacketNumber: 0);
        var tiny = ShortPlain(1, [])[..(ShortPnOffset + 4 + 15)]; // sample needs pn offset + 4 + 16 bytes
        var (verdict, after, _) = kernel.Run("quic_seal", tiny);
        Assert.Equal(0, verdict);
        Assert.Equal(Hex.Of(tiny), Hex.Of(after));
        var (unknownVerdict, unknown, _) = kernel.Run("quic_seal", ShortPlain(1, Payload(50, 3)), slot: 7);
        Assert.Equal(0, unknownVerdict); // slot 7 has no connection: untouched
        Assert.Equal(Hex.Of(ShortPlain(1, Payload(50, 3))), Hex.Of(unknown));
        // An IPv4 fragment (more fragments set) is never taken for a whole QUIC packet.
        var fragment = new PacketBuilder().Build(StackSeal(2, Payload(200, 4), keys));
        fragment[20] = 0x20; // flags: MF instead of DF
        var fragmentRun = kernel.Object.Program("quic_open").TestRun(fragment);
        Assert.Equal(0, fragmentRun.ReturnValue);
        Assert.Equal(Hex.Of(fragment), Hex.Of(fragmentRun.Output.AsSpan(0, fragment.Length)));
        Assert.Equal(0UL, kernel.Crypto.ReadStats().Opened);
        Assert.Equal(1UL, kernel.Crypto.ReadStats().Malformed);
        Assert.Equal(1UL, kernel.Crypto.ReadStats().NoKeys);
    }

    [BpfTheory]
    [InlineData("ecb(aes)")]
    [InlineData("ecb(aes-generic)")]
    public void Cost_of_sealing_and_opening_a_1200_byte_packet(string algorithm)
    {
        using var kernel = Load(algorithm);
        using var keys = RandomKeys();
        Install(kernel.Crypto, slot: 0, phase: 0, keys);
        kernel.Crypto.SetConnection(0, ShortPnOffset, sendPhase: 0, largestPacketNumber: 0);
        var payload = Payload(1200 - ShortPnOffset - 4 - TagLength, 9);
        // One run per packet, each a fresh packet, so every seal and every open does the whole work and succeeds (a
        // repeated run would reuse one skb: a second open of the same packet fails early). The kernel's duration of a
        // single run includes the test-run overhead (~100 ns on this machine).
        const int packets = 400;
        long sealNs = 0, openNs = 0;
        for (uint pn = 1; pn <= packets; pn++)
        {
            var seal = kernel.Run("quic_seal", ShortPlain(pn, payload));
            Assert.Equal(0, seal.Verdict);
            sealNs += seal.Run.DurationNanoseconds;
            var open = kernel.Run("quic_open", StackSeal(packets + pn, payload, keys));
            Assert.Equal(0, open.Verdict);
            openNs += open.Run.DurationNanoseconds;
        }
        Assert.Equal(new QuicKernelCryptoStats(packets, packets, 0, 0, 0, 0), kernel.Crypto.ReadStats());
        output.WriteLine($"{algorithm}: 1200-byte packet: seal {sealNs / packets} ns, open {openNs / packets} ns (mean of {packets} single runs)");
    }

    [BpfTheory]
    [InlineData("quic_aead.bpf.c")]
    [InlineData("quic_forward.bpf.c")]
    public void The_verifier_accepts_every_program_with_room_to_spare(string source)
    {
        // Level 4: the verifier's statistics for every program. The AEAD's loops run through bpf_loop, so the work the
        // verifier does does not grow with the packet size; this guards that (a loop the verifier has to unroll would
        // multiply it).
        using var obj = FastRelay.Bpf.BpfObject.Open(objects.ObjectPath(source), new BpfObjectOptions { VerifierLogLevel = 4 });
        KptrTypeTags.TagMembersPointingTo(obj, QuicKernelCrypto.CryptoContextStruct);
        obj.Load();
        foreach (var program in obj.Programs)
        {
            var log = program.VerifierLog ?? "";
            var processed = System.Text.RegularExpressions.Regex.Match(log, @"processed (\d+) insns");
            Assert.True(processed.Success, $"{program.Name}: no statistics in\n{log}");
            int insns = int.Parse(processed.Groups[1].Value);
            output.WriteLine($"{program.Name}: {log.Trim().Replace('\n', ' ')}");
            Assert.True(insns < 200_000, $"{program.Name}: the verifier walked {insns} instructions (limit 1,000,000)");
        }
    }
}
