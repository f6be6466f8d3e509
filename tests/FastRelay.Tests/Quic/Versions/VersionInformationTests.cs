using Xunit;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Tests.Quic.Versions;

/// <summary>The version_information transport parameter (RFC 9368 §3, §4): encoding and every malformation.</summary>
public sealed class VersionInformationTests
{
    [Fact]
    public void Round_trips_in_ascending_id_order_between_retry_source_and_max_datagram_frame_size()
    {
        var sent = new TransportParameters
        {
            InitialSourceConnectionId = new ConnectionId([1, 2]),
            VersionInformation = new VersionInformation(QuicVersion.V1, [QuicVersion.V2, QuicVersion.V1]),
            MaxDatagramFrameSize = 1200,
        };
        var bytes = sent.Encode();
        // ... 0f 02 0102 | 11 0c 00000001 6b3343cf 00000001 | 20 ...
        Assert.Contains("0f020102110c000000016b3343cf0000000120", Hex.Of(bytes));
        Assert.True(TransportParameters.TryDecode(bytes, QuicPerspective.Client, out var received, out var error), error.ToString());
        Assert.Equal(QuicVersion.V1, received.VersionInformation!.ChosenVersion);
        Assert.Equal([QuicVersion.V2, QuicVersion.V1], received.VersionInformation.AvailableVersions);
    }

    [Theory]
    [InlineData("0f00 1100", "empty")]
    [InlineData("0f00 1103 000001", "shorter than a version")]
    [InlineData("0f00 1106 00000001 0000", "not a multiple of 4")]
    [InlineData("0f00 1104 00000000", "chosen version zero")]
    [InlineData("0f00 1108 00000001 00000000", "an available version of zero")]
    [InlineData("0f00 1108 00000001 6b3343cf", "a client's chosen version missing from its available versions")]
    [InlineData("0f00 1108 00000001 00000001 1104 00000001", "duplicate")]
    public void Malformed_is_a_transport_parameter_error(string hex, string because)
    {
        Assert.False(TransportParameters.TryDecode(Hex.Parse(hex), QuicPerspective.Client, out _, out var error), because);
        Assert.Equal(QuicTransportError.TransportParameterError, error.Code);
    }

    [Fact]
    public void A_server_may_leave_its_chosen_version_out_of_its_available_versions()
    {
        // RFC 9368 §3: the server lists its fully deployed versions, which need not include the one in use (even none).
        Assert.True(TransportParameters.TryDecode(Hex.Parse("0f00 0000 1104 00000001"), QuicPerspective.Server, out var p, out var error), error.ToString());
        Assert.Empty(p.VersionInformation!.AvailableVersions);
    }

    [Fact]
    public void A_list_longer_than_the_bound_is_refused()
    {
        // 1 chosen + 65 available = 264 bytes (length as a 2-byte varint 0x4108); the bound is 64 available.
        var hex = "0f00 11" + (0x4000 | (4 + 4 * 65)).ToString("x4") + string.Concat(Enumerable.Repeat("00000001", 66));
        var atBound = "0f00 11" + (0x4000 | (4 + 4 * 64)).ToString("x4") + string.Concat(Enumerable.Repeat("00000001", 65));
        Assert.True(TransportParameters.TryDecode(Hex.Parse(atBound), QuicPerspective.Client, out _, out var ok), ok.ToString());
        Assert.False(TransportParameters.TryDecode(Hex.Parse(hex), QuicPerspective.Client, out _, out var error));
        Assert.Equal(QuicTransportError.TransportParameterError, error.Code);
    }

    [Theory]
    [InlineData("v1", QuicVersion.V1)]
    [InlineData("v2", QuicVersion.V2)]
    [InlineData("v2draft", QuicVersion.V2Draft)]
    [InlineData("0x6b3343cf", QuicVersion.V2)]
    [InlineData("709a50c4", QuicVersion.V2Draft)]
    public void Version_names_parse(string text, uint version)
    {
        Assert.True(QuicVersion.TryParse(text, out uint parsed));
        Assert.Equal(version, parsed);
        Assert.True(QuicVersion.TryParse(QuicVersion.Name(version), out parsed));
        Assert.Equal(version, parsed);
    }
}
