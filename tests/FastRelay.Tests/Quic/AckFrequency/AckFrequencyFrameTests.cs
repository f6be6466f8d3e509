using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;
using Xunit;

namespace FastRelay.Tests.Quic.AckFrequency;

/// <summary>ACK_FREQUENCY (0xaf) and IMMEDIATE_ACK (0x1f), draft-ietf-quic-ack-frequency-12 §4 and §5: encoding, decoding,
/// and the errors hostile or misplaced frames become.</summary>
public class AckFrequencyFrameTests
{
    private static readonly Random Random = new(2026);

    private static List<object> Decode(byte[] payload, QuicPacketType packetType = QuicPacketType.OneRtt)
    {
        var handler = new CollectingHandler();
        Assert.True(FrameDecoder.TryDecode(payload, packetType, ref handler, out bool ackEliciting, out var error, ackFrequencyEnabled: true), error.ToString());
        Assert.True(ackEliciting, "both frames are ack-eliciting (§4, §5)");
        return handler.Frames;
    }

    private static QuicError DecodeFails(byte[] payload, QuicPacketType packetType = QuicPacketType.OneRtt, bool enabled = true)
    {
        var handler = new CountingHandler();
        Assert.False(FrameDecoder.TryDecode(payload, packetType, ref handler, out _, out var error, ackFrequencyEnabled: enabled));
        return error;
    }

    [Fact]
    public void Ack_frequency_round_trips_every_varint_size()
    {
        for (int i = 0; i < 500; i++)
        {
            var frame = new AckFrequencyFrame(RandomValues.Varint(Random), RandomValues.Varint(Random), RandomValues.Varint(Random), RandomValues.Varint(Random));
            var bytes = new byte[frame.EncodedLength];
            Assert.Equal(bytes.Length, frame.Write(bytes));
            Assert.Equal(frame, Assert.IsType<AckFrequencyFrame>(Assert.Single(Decode(bytes))));
        }
    }

    [Fact]
    public void Ack_frequency_has_the_drafts_wire_image()
    {
        // Type 0xaf is a two-byte varint (0x40af); then sequence 1, threshold 9, 20,000 µs (a four-byte varint), reordering 3.
        var bytes = new byte[new AckFrequencyFrame(1, 9, 20_000, 3).EncodedLength];
        new AckFrequencyFrame(1, 9, 20_000, 3).Write(bytes);
        Assert.Equal("40af" + "01" + "09" + "80004e20" + "03", Hex.Of(bytes));
    }

    [Fact]
    public void Immediate_ack_is_one_byte_and_round_trips()
    {
        var bytes = new byte[1];
        Assert.Equal(1, new ImmediateAckFrame().Write(bytes));
        Assert.Equal("1f", Hex.Of(bytes));
        Assert.IsType<ImmediateAckFrame>(Assert.Single(Decode(bytes)));
    }

    [Theory]
    [InlineData("40af")]
    [InlineData("40af 01")]
    [InlineData("40af 01 09")]
    [InlineData("40af 01 09 80004e")]   // delay varint cut short
    [InlineData("40af 01 09 80004e20")] // reordering threshold missing
    public void A_truncated_ack_frequency_is_a_frame_encoding_error(string hex)
    {
        var error = DecodeFails(Hex.Parse(hex));
        Assert.Equal(QuicTransportError.FrameEncodingError, error.Code);
        Assert.Equal(FrameType.AckFrequency, error.FrameType);
    }

    [Theory]
    [InlineData("40af 00 01 19 01")]
    [InlineData("1f")]
    public void Without_our_min_ack_delay_both_frames_are_unknown_types(string hex)
    {
        Assert.Equal(QuicTransportError.FrameEncodingError, DecodeFails(Hex.Parse(hex), enabled: false).Code);
    }

    [Theory]
    [InlineData("40af 00 01 19 01", QuicPacketType.ZeroRtt)]
    [InlineData("1f", QuicPacketType.ZeroRtt)]
    [InlineData("1f", QuicPacketType.Initial)]
    [InlineData("40af 00 01 19 01", QuicPacketType.Handshake)]
    public void Outside_1rtt_packets_both_frames_are_a_protocol_violation(string hex, QuicPacketType packetType)
    {
        // §3: min_ack_delay is not remembered, so they cannot be in 0-RTT; RFC 9000 Table 3 keeps them out of the others.
        Assert.Equal(QuicTransportError.ProtocolViolation, DecodeFails(Hex.Parse(hex), packetType).Code);
    }

    [Fact]
    public void A_non_minimal_frame_type_is_a_protocol_violation()
    {
        Assert.Equal(QuicTransportError.ProtocolViolation, DecodeFails(Hex.Parse("800000af 00 01 19 01")).Code);
        Assert.Equal(QuicTransportError.ProtocolViolation, DecodeFails(Hex.Parse("401f")).Code);
    }

    [Theory]
    [InlineData(999UL, 1000UL, false)]            // below our min_ack_delay
    [InlineData(1000UL, 1000UL, true)]
    [InlineData(16_383_999UL, 1000UL, true)]      // just under 2^14 ms
    [InlineData(16_384_000UL, 0UL, false)]        // 2^14 ms: invalid as a max_ack_delay (RFC 9000 §18.2)
    [InlineData(4_611_686_018_427_387_903UL, 0UL, false)]
    public void The_requested_max_ack_delay_is_checked_against_min_ack_delay_and_two_to_the_fourteen_ms(ulong delay, ulong minAckDelay, bool valid)
    {
        var error = new AckFrequencyFrame(0, 1, delay, 1).ValidateRequestedMaxAckDelay(minAckDelay);
        if (valid) Assert.True(error.IsNone, error.ToString());
        else
        {
            Assert.Equal(QuicTransportError.ProtocolViolation, error.Code);
            Assert.Equal(FrameType.AckFrequency, error.FrameType);
        }
    }
}
