using Xunit;
using System.Security.Cryptography;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Tests.Quic;

public class PacketProtectionTests
{
    public static TheoryData<CipherSuite> Suites() => new(Enum.GetValues<CipherSuite>().Where(s => s.IsSupported()));

    [Theory]
    [MemberData(nameof(Suites))]
    public void RandomShortHeaderPacketsRoundTrip(CipherSuite suite)
    {
        var random = new Random((int)suite);
        var secret = new byte[suite.HashLength()];
        random.NextBytes(secret);
        using var keys = PacketKeys.FromSecret(suite, secret);
        var dcid = new byte[8];
        var packet = new byte[1500];
        ulong largest = 0;
        for (int i = 0; i < 300; i++)
        {
            ulong pn = largest + 1 + (ulong)random.Next(100);
            int pnLength = PacketNumber.GetEncodedLength(pn, largest > 50 ? largest - 50 : null);
            int header = PacketHeaderWriter.WriteShortHeader(packet, dcid, pn, pnLength, keyPhase: false);
            int payloadLength = random.Next(Math.Max(1, 4 - pnLength), 1200);
            var plaintext = new byte[payloadLength];
            random.NextBytes(plaintext);
            plaintext.CopyTo(packet, header);
            int total = PacketProtection.Protect(packet, header - pnLength, pn, payloadLength, keys);

            var received = packet.AsSpan(0, total).ToArray();
            Assert.True(PacketProtection.TryUnprotect(received, 9, largest, keys, out ulong decoded, out int offset, out int length, out var error), error.ToString());
            Assert.Equal(pn, decoded);
            Assert.Equal(plaintext, received.AsSpan(offset, length).ToArray());
            largest = pn;
        }
    }

    [Fact]
    public void TamperedPacketsAreDropped()
    {
        var (client, server) = PacketKeys.CreateInitial([1, 2, 3, 4, 5, 6, 7, 8]);
        using (client)
        using (server)
        {
            var packet = new byte[100];
            int header = PacketHeaderWriter.WriteLongHeader(packet, QuicPacketType.Handshake, QuicVersion.V1, [1, 2], [], [], 5, 4, 40 + 16);
            int total = PacketProtection.Protect(packet, header - 4, 5, 40, client);
            for (int i = 0; i < total; i++)
            {
                var copy = packet.AsSpan(0, total).ToArray();
                copy[i] ^= 0x80;
                if (!PacketHeaderParser.TryParse(copy, 0, out var parsed, out _) || parsed.Type != QuicPacketType.Handshake) continue;
                Assert.False(PacketProtection.TryUnprotect(copy.AsSpan(0, parsed.PacketLength), parsed.PacketNumberOffset, 4, client, out _, out _, out _, out var error));
                Assert.True(error.Discard || error.Code == QuicTransportError.ProtocolViolation);
            }
        }
    }

    [Fact]
    public void NonZeroReservedBitsAfterDecryptionAreProtocolViolation()
    {
        using var keys = PacketKeys.FromSecret(CipherSuite.Aes128GcmSha256, new byte[32]);
        var packet = new byte[60];
        int header = PacketHeaderWriter.WriteShortHeader(packet, [], 1, 4, false);
        packet[0] |= 0x08; // a reserved bit, authenticated as part of the header
        int total = PacketProtection.Protect(packet, 1, 1, 20, keys);
        Assert.False(PacketProtection.TryUnprotect(packet.AsSpan(0, total), 1, 0, keys, out _, out _, out _, out var error));
        Assert.Equal(QuicTransportError.ProtocolViolation, error.Code);
        Assert.False(error.Discard);
    }

    [Fact]
    public void TooShortForSampleIsDropped()
    {
        using var keys = PacketKeys.FromSecret(CipherSuite.Aes128GcmSha256, new byte[32]);
        var packet = new byte[1 + 8 + 4 + 15];
        packet[0] = 0x43;
        Assert.False(PacketProtection.TryUnprotect(packet, 9, 0, keys, out _, out _, out _, out var error));
        Assert.True(error.Discard);
    }

    [Fact]
    public void RandomBytesNeverThrowWhenUnprotected()
    {
        var random = new Random(11);
        using var keys = PacketKeys.FromSecret(CipherSuite.Aes128GcmSha256, new byte[32]);
        var buffer = new byte[300];
        for (int i = 0; i < 5000; i++)
        {
            int length = random.Next(buffer.Length);
            random.NextBytes(buffer.AsSpan(0, length));
            Assert.False(PacketProtection.TryUnprotect(buffer.AsSpan(0, length), random.Next(0, 30), random.Next(2) == 0 ? null : (ulong)random.Next(),
                keys, out _, out _, out _, out var error));
        }
    }

    [Fact]
    public void KeyUpdateDerivesNewAeadAndKeepsHeaderProtection()
    {
        var secret = new byte[32];
        RandomNumberGenerator.Fill(secret);
        using var gen0 = PacketKeys.FromSecret(CipherSuite.Aes128GcmSha256, secret);
        using var gen1 = gen0.DeriveNextGeneration();
        using var gen2 = gen1.DeriveNextGeneration();
        Assert.Same(gen0.HeaderProtection, gen1.HeaderProtection);
        Assert.True(gen1.KeyPhase);
        Assert.False(gen2.KeyPhase);
        Span<byte> expected = stackalloc byte[32];
        HkdfLabel.ExpandLabel(HashAlgorithmName.SHA256, secret, "quic ku"u8, default, expected);
        Assert.Equal(expected.ToArray(), gen1.Secret.ToArray());

        // A packet sealed with generation 1 opens with generation 1 only (one attempt per packet copy).
        var packet = new byte[64];
        int header = PacketHeaderWriter.WriteShortHeader(packet, [], 9, 2, keyPhase: gen1.KeyPhase);
        int total = PacketProtection.Protect(packet, 1, 9, 20, gen1);
        var copy = packet.AsSpan(0, total).ToArray();
        Assert.True(PacketProtection.TryRemoveHeaderProtection(copy, 1, gen0.HeaderProtection, out int pnLength, out uint truncated, out _));
        Assert.True((copy[0] & 0x04) != 0); // Key Phase readable after header protection removal
        Assert.False(PacketProtection.TryDecryptPayload(copy.ToArray(), 1, pnLength, truncated, gen0.Aead, out _, out _, out _));
        Assert.True(PacketProtection.TryDecryptPayload(copy, 1, pnLength, truncated, gen1.Aead, out _, out _, out var error), error.ToString());
    }

    [Fact]
    public void ProtectAndUnprotectDoNotAllocate()
    {
        var (client, server) = PacketKeys.CreateInitial([1, 2, 3, 4, 5, 6, 7, 8]);
        using (client)
        using (server)
        {
            var packet = new byte[1200];
            var work = new byte[1200];
            int header = PacketHeaderWriter.WriteShortHeader(packet, new byte[8], 1, 4, false);
            int total = 0;
            void Round(ulong pn)
            {
                PacketNumber.Write(packet.AsSpan(9), pn, 4);
                packet[0] = 0x43;
                total = PacketProtection.Protect(packet, 9, pn, 1000, client);
                packet.AsSpan(0, total).CopyTo(work);
                if (!PacketProtection.TryUnprotect(work.AsSpan(0, total), 9, pn - 1, client, out _, out _, out _, out _)) throw new Exception("round trip failed");
            }
            for (ulong pn = 1; pn < 50; pn++) Round(pn);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (ulong pn = 50; pn < 1050; pn++) Round(pn);
            // 1000 packets: anything per packet would be >= 24 KB.
            Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1000, $"{GC.GetAllocatedBytesForCurrentThread() - before} bytes");
        }
    }
}
