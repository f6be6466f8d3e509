using Xunit;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Tests.Quic;

public class PacketHeaderTests
{
    private static readonly byte[] Dcid = Hex.Parse("0102030405060708");
    private static readonly byte[] Scid = Hex.Parse("a1a2a3a4");

    private static byte[] LongPacket(QuicPacketType type, int payloadLength, byte[]? token = null)
    {
        var buffer = new byte[200 + payloadLength];
        int header = PacketHeaderWriter.WriteLongHeader(buffer, type, QuicVersion.V1, Dcid, Scid, token ?? [], 7, 2, payloadLength);
        return buffer[..(header + payloadLength)];
    }

    [Theory]
    [InlineData(QuicPacketType.Initial)]
    [InlineData(QuicPacketType.ZeroRtt)]
    [InlineData(QuicPacketType.Handshake)]
    public void LongHeaderRoundTrip(QuicPacketType type)
    {
        var token = type == QuicPacketType.Initial ? new byte[] { 9, 8, 7 } : [];
        var packet = LongPacket(type, 40, token);
        Assert.Equal(PacketHeaderWriter.GetLongHeaderLength(type, Dcid.Length, Scid.Length, token.Length, 2, 40), packet.Length - 40);
        Assert.True(PacketHeaderParser.TryParse(packet, 8, out var header, out var error), error.ToString());
        Assert.Equal(type, header.Type);
        Assert.Equal(QuicVersion.V1, header.Version);
        Assert.Equal(Dcid, header.DestinationConnectionId.ToArray());
        Assert.Equal(Scid, header.SourceConnectionId.ToArray());
        Assert.Equal(token, header.Token.ToArray());
        Assert.Equal(42UL, header.Length);
        Assert.Equal(packet.Length, header.PacketLength);
        Assert.Equal(7U, PacketNumber.ReadTruncated(packet.AsSpan(header.PacketNumberOffset), 2));
    }

    [Fact]
    public void ShortHeaderWithFixedConnectionIdLength()
    {
        var packet = new byte[30];
        int length = PacketHeaderWriter.WriteShortHeader(packet, Dcid, 0x01020304, 4, keyPhase: true, spinBit: true);
        Assert.Equal(1 + 8 + 4, length);
        Assert.Equal(0x40 | 0x20 | 0x04 | 0x03, packet[0]);
        Assert.True(PacketHeaderParser.TryParse(packet, 8, out var header, out _));
        Assert.Equal(QuicPacketType.OneRtt, header.Type);
        Assert.Equal(Dcid, header.DestinationConnectionId.ToArray());
        Assert.Equal(9, header.PacketNumberOffset);
        Assert.Equal(30, header.PacketLength);
    }

    [Fact]
    public void FastPathShortHeaderMatchesQuicMoqMatch()
    {
        // QuicMoqHeader matches byte 0 with mask 0xDB == 0x43: fixed bit, 4-byte packet number, reserved bits clear.
        var packet = new byte[13];
        PacketHeaderWriter.WriteShortHeader(packet, ConnectionId.WithPriority(3, 8).Span, 1, 4, keyPhase: false);
        Assert.Equal(0x43, packet[0] & 0xDB);
        Assert.Equal(3, packet[1]);
    }

    [Fact]
    public void VersionNegotiationRoundTrip()
    {
        var buffer = new byte[100];
        int length = PacketHeaderWriter.WriteVersionNegotiation(buffer, Scid, Dcid, [QuicVersion.V1, 0x1a2a3a4a]);
        Assert.True(PacketHeaderParser.TryParse(buffer.AsMemory(0, length), 0, out var header, out var error), error.ToString());
        Assert.Equal(QuicPacketType.VersionNegotiation, header.Type);
        Assert.Equal(Scid, header.DestinationConnectionId.ToArray());
        Assert.Equal(2, header.SupportedVersionCount);
        Assert.Equal(QuicVersion.V1, header.GetSupportedVersion(0));
        Assert.True(QuicVersion.IsReserved(header.GetSupportedVersion(1)));
    }

    [Fact]
    public void UnsupportedVersionIsReportedWithItsConnectionIds()
    {
        var packet = LongPacket(QuicPacketType.Initial, 20);
        packet[4] = 2; // version 0x00000002
        Assert.True(PacketHeaderParser.TryParse(packet, 8, out var header, out _));
        Assert.Equal(QuicPacketType.UnsupportedVersion, header.Type);
        Assert.Equal(2U, header.Version);
        Assert.Equal(Dcid, header.DestinationConnectionId.ToArray());
    }

    [Fact]
    public void CoalescedPacketsSplitByLength()
    {
        var initial = LongPacket(QuicPacketType.Initial, 30);
        var handshake = LongPacket(QuicPacketType.Handshake, 50);
        var shortPacket = new byte[40];
        PacketHeaderWriter.WriteShortHeader(shortPacket, Dcid, 1, 1, false);
        var datagram = initial.Concat(handshake).Concat(shortPacket).ToArray();

        var packets = new CoalescedPackets(datagram, 8);
        var seen = new List<(QuicPacketType, int)>();
        while (packets.TryGetNext(out var header, out var packet)) seen.Add((header.Type, packet.Length));
        Assert.True(packets.Error.IsNone);
        Assert.Equal([(QuicPacketType.Initial, initial.Length), (QuicPacketType.Handshake, handshake.Length), (QuicPacketType.OneRtt, 40)], seen);
    }

    [Fact]
    public void TrailingZerosAfterCoalescedPacketsAreIgnored()
    {
        var datagram = LongPacket(QuicPacketType.Initial, 30).Concat(new byte[100]).ToArray();
        var packets = new CoalescedPackets(datagram, 8);
        Assert.True(packets.TryGetNext(out _, out _));
        Assert.False(packets.TryGetNext(out _, out _));
        Assert.True(packets.Error.IsNone);
    }

    [Fact]
    public void MalformedHeadersAreDiscarded()
    {
        var valid = LongPacket(QuicPacketType.Handshake, 30);
        // Every truncation of a long header packet is either a clean drop or (never) a bogus success.
        for (int cut = 0; cut < valid.Length; cut++)
        {
            Assert.False(PacketHeaderParser.TryParse(valid.AsMemory(0, cut), 8, out _, out var error));
            Assert.True(error.Discard);
        }
        var noFixedBit = (byte[])valid.Clone();
        noFixedBit[0] &= 0xBF;
        Assert.False(PacketHeaderParser.TryParse(noFixedBit, 8, out _, out var e1));
        Assert.True(e1.Discard);
        var longCid = (byte[])valid.Clone();
        longCid[5] = 21;
        Assert.False(PacketHeaderParser.TryParse(longCid, 8, out _, out var e2));
        Assert.True(e2.Discard);
        Assert.False(PacketHeaderParser.TryParse(Hex.Parse("f0000000010000"), 8, out _, out _)); // Retry without token and tag
        Assert.False(PacketHeaderParser.TryParse(Hex.Parse("8000000000000001"), 8, out _, out _)); // VN with a 1-byte list
        Assert.False(PacketHeaderParser.TryParse(Hex.Parse("4001020304"), 8, out _, out _)); // short header too short
    }

    [Fact]
    public void RandomDatagramsNeverThrow()
    {
        var random = new Random(1500);
        var buffer = new byte[1500];
        for (int i = 0; i < 20000; i++)
        {
            int length = random.Next(buffer.Length);
            random.NextBytes(buffer.AsSpan(0, length));
            if (length > 5 && random.Next(2) == 0) { buffer[1] = 0; buffer[2] = 0; buffer[3] = 0; buffer[4] = 1; buffer[5] = (byte)random.Next(21); }
            var packets = new CoalescedPackets(buffer.AsMemory(0, length), 8);
            int total = 0;
            while (packets.TryGetNext(out var header, out var packet))
            {
                total += packet.Length;
                Assert.True(header.PacketLength == packet.Length);
            }
            Assert.True(total <= length);
            Assert.True(packets.Error.IsNone || packets.Error.Discard);
        }
    }

    [Fact]
    public void DestinationConnectionIdForRouting()
    {
        var packet = LongPacket(QuicPacketType.Initial, 30);
        Assert.True(PacketHeaderParser.TryGetDestinationConnectionId(packet, 8, out var dcid));
        Assert.Equal(Dcid, dcid.ToArray());
        Assert.False(PacketHeaderParser.TryGetDestinationConnectionId(packet.AsSpan(0, 8), 8, out _));
    }
}
