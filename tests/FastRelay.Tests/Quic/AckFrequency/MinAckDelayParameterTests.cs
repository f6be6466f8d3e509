using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Wire;
using Xunit;

namespace FastRelay.Tests.Quic.AckFrequency;

/// <summary>The min_ack_delay transport parameter (0xff04de1b, µs), draft-ietf-quic-ack-frequency-12 §3.</summary>
public class MinAckDelayParameterTests
{
    private static TransportParameters Client(ulong? minAckDelay, ulong maxAckDelayMs = TransportParameters.DefaultMaxAckDelayMs) => new()
    {
        InitialSourceConnectionId = new ConnectionId([1, 2, 3, 4]),
        MaxAckDelay = maxAckDelayMs,
        MinAckDelay = minAckDelay,
    };

    [Theory]
    [InlineData(0UL)]
    [InlineData(1000UL)]
    [InlineData(25_000UL)]   // equal to the default max_ack_delay of 25 ms: allowed
    public void Min_ack_delay_round_trips(ulong value)
    {
        Assert.True(TransportParameters.TryDecode(Client(value).Encode(), QuicPerspective.Client, out var back, out var error), error.ToString());
        Assert.Equal(value, back.MinAckDelay);
    }

    [Fact]
    public void Absent_it_decodes_as_null_and_is_not_written()
    {
        var bytes = Client(null).Encode();
        Assert.DoesNotContain("c0000000ff04de1b", Hex.Of(bytes));
        Assert.True(TransportParameters.TryDecode(bytes, QuicPerspective.Client, out var back, out _));
        Assert.Null(back.MinAckDelay);
    }

    [Fact]
    public void It_is_written_under_the_drafts_codepoint_as_a_varint()
    {
        // id 0xff04de1b (an eight-byte varint), length 2, value 1000 (0x43e8).
        Assert.EndsWith("c0000000ff04de1b" + "02" + "43e8", Hex.Of(Client(1000).Encode()));
    }

    [Theory]
    // max_ack_delay 10 ms (0b 01 0a) before or after a min_ack_delay of 10,001 µs (0x80002711): µs against ms, either order.
    [InlineData("0f0401020304 0b010a c0000000ff04de1b 04 80002711")]
    [InlineData("0f0401020304 c0000000ff04de1b 04 80002711 0b010a")]
    // The default max_ack_delay (25 ms) applies when it is absent.
    [InlineData("0f0401020304 c0000000ff04de1b 04 800061a9")]
    public void A_min_ack_delay_above_max_ack_delay_is_a_transport_parameter_error(string hex)
    {
        Assert.False(TransportParameters.TryDecode(Hex.Parse(hex), QuicPerspective.Client, out _, out var error));
        Assert.Equal(QuicTransportError.TransportParameterError, error.Code);
    }

    [Theory]
    [InlineData("0f0401020304 c0000000ff04de1b 02 43e8 c0000000ff04de1b 02 43e8", "duplicate")]
    [InlineData("0f0401020304 c0000000ff04de1b 03 43e800", "trailing byte after the varint")]
    [InlineData("0f0401020304 c0000000ff04de1b 00", "empty value")]
    [InlineData("0f0401020304 c0000000ff04de1b 02 8000", "varint longer than the value")]
    public void A_malformed_min_ack_delay_is_a_transport_parameter_error(string hex, string because)
    {
        Assert.False(TransportParameters.TryDecode(Hex.Parse(hex), QuicPerspective.Client, out _, out var error), because);
        Assert.Equal(QuicTransportError.TransportParameterError, error.Code);
    }

    [Fact]
    public void We_refuse_to_send_a_min_ack_delay_above_our_max_ack_delay()
    {
        Assert.Throws<InvalidOperationException>(() => Client(10_001, maxAckDelayMs: 10).Encode());
    }
}
