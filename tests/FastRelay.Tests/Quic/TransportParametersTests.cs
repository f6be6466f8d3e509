using Xunit;
using System.Net;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Tests.Quic;

public class TransportParametersTests
{
    private static ConnectionId RandomCid(Random random, int min = 0)
    {
        var bytes = new byte[random.Next(min, 21)];
        random.NextBytes(bytes);
        return new ConnectionId(bytes);
    }

    private static TransportParameters RandomParameters(Random random, QuicPerspective sender)
    {
        var p = new TransportParameters
        {
            MaxIdleTimeout = RandomValues.Varint(random),
            MaxUdpPayloadSize = 1200 + (ulong)random.Next(70000),
            InitialMaxData = RandomValues.Varint(random),
            InitialMaxStreamDataBidiLocal = RandomValues.Varint(random),
            InitialMaxStreamDataBidiRemote = RandomValues.Varint(random),
            InitialMaxStreamDataUni = RandomValues.Varint(random),
            InitialMaxStreamsBidi = (ulong)random.NextInt64((long)TransportParameters.MaxStreamsLimit + 1),
            InitialMaxStreamsUni = (ulong)random.NextInt64((long)TransportParameters.MaxStreamsLimit + 1),
            AckDelayExponent = (ulong)random.Next(21),
            MaxAckDelay = (ulong)random.Next(1 << 14),
            DisableActiveMigration = random.Next(2) == 0,
            ActiveConnectionIdLimit = 2 + (ulong)random.Next(100),
            InitialSourceConnectionId = RandomCid(random),
            MaxDatagramFrameSize = random.Next(2) == 0 ? null : RandomValues.Varint(random),
            Disable1RttEncryption = random.Next(2) == 0,
        };
        if (sender == QuicPerspective.Server)
        {
            p.OriginalDestinationConnectionId = RandomCid(random);
            p.StatelessResetToken = random.Next(2) == 0 ? null : new UInt128((ulong)random.NextInt64(), (ulong)random.NextInt64());
            p.RetrySourceConnectionId = random.Next(2) == 0 ? null : RandomCid(random);
            if (random.Next(2) == 0)
            {
                var v6 = new byte[16];
                random.NextBytes(v6);
                p.PreferredAddress = new PreferredAddress(new IPAddress(random.Next()), (ushort)random.Next(65536), new IPAddress(v6),
                    (ushort)random.Next(65536), RandomCid(random, 1), new UInt128((ulong)random.NextInt64(), 7));
            }
        }
        return p;
    }

    private static void AssertSame(TransportParameters a, TransportParameters b)
    {
        Assert.Equal(a.OriginalDestinationConnectionId, b.OriginalDestinationConnectionId);
        Assert.Equal(a.MaxIdleTimeout, b.MaxIdleTimeout);
        Assert.Equal(a.StatelessResetToken, b.StatelessResetToken);
        Assert.Equal(a.MaxUdpPayloadSize, b.MaxUdpPayloadSize);
        Assert.Equal(a.InitialMaxData, b.InitialMaxData);
        Assert.Equal(a.InitialMaxStreamDataBidiLocal, b.InitialMaxStreamDataBidiLocal);
        Assert.Equal(a.InitialMaxStreamDataBidiRemote, b.InitialMaxStreamDataBidiRemote);
        Assert.Equal(a.InitialMaxStreamDataUni, b.InitialMaxStreamDataUni);
        Assert.Equal(a.InitialMaxStreamsBidi, b.InitialMaxStreamsBidi);
        Assert.Equal(a.InitialMaxStreamsUni, b.InitialMaxStreamsUni);
        Assert.Equal(a.AckDelayExponent, b.AckDelayExponent);
        Assert.Equal(a.MaxAckDelay, b.MaxAckDelay);
        Assert.Equal(a.DisableActiveMigration, b.DisableActiveMigration);
        Assert.Equal(a.PreferredAddress, b.PreferredAddress);
        Assert.Equal(a.ActiveConnectionIdLimit, b.ActiveConnectionIdLimit);
        Assert.Equal(a.InitialSourceConnectionId, b.InitialSourceConnectionId);
        Assert.Equal(a.RetrySourceConnectionId, b.RetrySourceConnectionId);
        Assert.Equal(a.MaxDatagramFrameSize, b.MaxDatagramFrameSize);
        Assert.Equal(a.Disable1RttEncryption, b.Disable1RttEncryption);
    }

    [Fact]
    public void RandomRoundTrip()
    {
        var random = new Random(9001);
        for (int i = 0; i < 1000; i++)
        {
            var sender = i % 2 == 0 ? QuicPerspective.Client : QuicPerspective.Server;
            var p = RandomParameters(random, sender);
            var bytes = p.Encode();
            Assert.Equal(bytes.Length, p.GetEncodedLength());
            Assert.True(TransportParameters.TryDecode(bytes, sender, out var back, out var error), error.ToString());
            AssertSame(p, back);
            Assert.Equal(Hex.Of(bytes), Hex.Of(back.Encode()));
        }
    }

    [Fact]
    public void DefaultsAreOmittedAndRestored()
    {
        var p = new TransportParameters { InitialSourceConnectionId = new ConnectionId([]) };
        Assert.Equal("0f00", Hex.Of(p.Encode()));
        Assert.True(TransportParameters.TryDecode(Hex.Parse("0f00"), QuicPerspective.Client, out var back, out _));
        Assert.Equal(65527UL, back.MaxUdpPayloadSize);
        Assert.Equal(3UL, back.AckDelayExponent);
        Assert.Equal(25UL, back.MaxAckDelay);
        Assert.Equal(2UL, back.ActiveConnectionIdLimit);
        Assert.Null(back.MaxDatagramFrameSize);
        Assert.False(back.Disable1RttEncryption);
    }

    [Fact]
    public void Disable1RttEncryptionIsEncodedAs0xBAAD()
    {
        var p = new TransportParameters { InitialSourceConnectionId = new ConnectionId([]), Disable1RttEncryption = true };
        // 0xBAAD as a 4-byte varint (it is above 16383), empty value.
        Assert.Equal("0f00" + "8000baad" + "00", Hex.Of(p.Encode()));
        Assert.True(TransportParameters.TryDecode(p.Encode(), QuicPerspective.Client, out var back, out _));
        Assert.True(back.Disable1RttEncryption);
        // The same id with a value is malformed.
        Assert.False(TransportParameters.TryDecode(Hex.Parse("0f00 8000baad 01 00"), QuicPerspective.Client, out _, out var error));
        Assert.Equal(QuicTransportError.TransportParameterError, error.Code);
    }

    [Fact]
    public void ClientInitialOfAppendixA2Decodes()
    {
        // The quic_transport_parameters extension (0x39) body of the RFC 9001 A.2 ClientHello.
        var bytes = Hex.Parse("0408ffffffffffffffff0504 8000ffff07048000ffff0801100104 8000753009011 00f088394c8f03e515708 06048000ffff".Replace(" ", ""));
        Assert.True(TransportParameters.TryDecode(bytes, QuicPerspective.Client, out var p, out var error), error.ToString());
        Assert.Equal(QuicVarint.MaxValue, p.InitialMaxData);
        Assert.Equal(0xffffUL, p.InitialMaxStreamDataBidiLocal);
        Assert.Equal(0xffffUL, p.InitialMaxStreamDataBidiRemote);
        Assert.Equal(0xffffUL, p.InitialMaxStreamDataUni);
        Assert.Equal(16UL, p.InitialMaxStreamsBidi);
        Assert.Equal(16UL, p.InitialMaxStreamsUni);
        Assert.Equal(30000UL, p.MaxIdleTimeout);
        Assert.Equal("8394c8f03e515708", p.InitialSourceConnectionId.ToString());
    }

    [Theory]
    [InlineData("0f00 0302 4400", "max_udp_payload_size 1024")]
    [InlineData("0f00 0a01 15", "ack_delay_exponent 21")]
    [InlineData("0f00 0b04 80004000", "max_ack_delay 2^14")]
    [InlineData("0f00 0e01 01", "active_connection_id_limit 1")]
    [InlineData("0f00 0808 d000000000000001", "initial_max_streams_bidi above 2^60")]
    [InlineData("0f00 0908 d000000000000001", "initial_max_streams_uni above 2^60")]
    [InlineData("0f00 0402 05", "varint shorter than its length")]
    [InlineData("0f00 0402 0505", "varint longer than its value")]
    [InlineData("0f00 0c01 00", "disable_active_migration with a value")]
    [InlineData("0f15 000000000000000000000000000000000000000000", "connection id of 21 bytes")]
    [InlineData("0f00 0f00", "duplicate parameter")]
    [InlineData("0f00 04", "truncated length")]
    [InlineData("0f00 0405 00", "truncated value")]
    [InlineData("0f00 00 00", "server-only original_destination_connection_id from a client")]
    [InlineData("0f00 0210 00000000000000000000000000000000", "server-only stateless_reset_token from a client")]
    [InlineData("0f00 1000", "server-only retry_source_connection_id from a client")]
    [InlineData("", "initial_source_connection_id missing")]
    public void InvalidFromClientIsTransportParameterError(string hex, string because)
    {
        Assert.False(TransportParameters.TryDecode(Hex.Parse(hex), QuicPerspective.Client, out _, out var error), because);
        Assert.True(error.Code == QuicTransportError.TransportParameterError, $"{because}: {error}");
    }

    [Theory]
    [InlineData("0f00", "original_destination_connection_id missing")]
    [InlineData("0f00 0000 020f 000000000000000000000000000000", "stateless_reset_token of 15 bytes")]
    [InlineData("0f00 0000 0d29 00000000 0000 00000000000000000000000000000000 0000 00 00000000000000000000000000000000", "preferred_address with empty connection id")]
    [InlineData("0f00 0000 0d10 00000000000000000000000000000000", "preferred_address truncated")]
    public void InvalidFromServerIsTransportParameterError(string hex, string because)
    {
        Assert.False(TransportParameters.TryDecode(Hex.Parse(hex), QuicPerspective.Server, out _, out var error), because);
        Assert.True(error.Code == QuicTransportError.TransportParameterError, $"{because}: {error}");
    }

    [Fact]
    public void UnknownAndReservedParametersAreIgnored()
    {
        // 27 (reserved, 31*0+27) with a value and a large unknown id, each with some bytes, around a version_information.
        var bytes = Hex.Parse("1b03aabbcc 1108 00000001 00000001 80ffff0102 0102 0f00");
        Assert.True(TransportParameters.TryDecode(bytes, QuicPerspective.Client, out var p, out var error), error.ToString());
        Assert.Equal(QuicVersion.V1, p.VersionInformation!.ChosenVersion);
        Assert.True(TransportParameterId.IsReserved(27));
        Assert.True(TransportParameterId.IsReserved(27 + 31 * 1000));
    }

    [Fact]
    public void RandomBytesAndTruncationsNeverThrow()
    {
        var random = new Random(5);
        var buffer = new byte[200];
        for (int i = 0; i < 20000; i++)
        {
            int length = random.Next(buffer.Length);
            random.NextBytes(buffer.AsSpan(0, length));
            if (!TransportParameters.TryDecode(buffer.AsSpan(0, length), (QuicPerspective)(i & 1), out _, out var error))
                Assert.Equal(QuicTransportError.TransportParameterError, error.Code);
        }
        var valid = RandomParameters(new Random(6), QuicPerspective.Server);
        valid.PreferredAddress ??= new PreferredAddress(IPAddress.Loopback, 443, IPAddress.IPv6Loopback, 443, new ConnectionId([1, 2]), 9);
        var bytes = valid.Encode();
        for (int cut = 0; cut < bytes.Length; cut++)
            TransportParameters.TryDecode(bytes.AsSpan(0, cut), QuicPerspective.Server, out _, out _);
    }

    [Fact]
    public void SendingInvalidValuesThrows()
    {
        Assert.Throws<InvalidOperationException>(() => new TransportParameters { MaxUdpPayloadSize = 1000 }.Encode());
        Assert.Throws<InvalidOperationException>(() => new TransportParameters { ActiveConnectionIdLimit = 1 }.Encode());
    }
}
