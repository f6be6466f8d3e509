using FastRelay.Protocols.CustomUdp.Wire;
using Xunit;

namespace FastRelay.Tests.CustomUdp;

/// <summary>The test-traffic payload: any change is caught, and so is a packet of another channel.</summary>
public sealed class TestPayloadTests
{
    [Theory]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(100)]
    [InlineData(1456)]
    public void An_intact_payload_verifies_and_every_flipped_bit_is_caught(int length)
    {
        var payload = new byte[length];
        Assert.Equal(length, TestPayload.Write(payload, 7, 123_456_789_012, length));

        Assert.Equal(TestPayloadStatus.Ok, TestPayload.Verify(payload, 7, out var sequence));
        Assert.Equal(123_456_789_012ul, sequence);

        for (var bit = 0; bit < length * 8; bit += length > 200 ? 7 : 1)
        {
            payload[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.NotEqual(TestPayloadStatus.Ok, TestPayload.Verify(payload, 7, out _));
            payload[bit / 8] ^= (byte)(1 << (bit % 8));
        }
    }

    [Fact]
    public void Truncated_or_extended_payloads_are_caught()
    {
        var payload = new byte[64];
        TestPayload.Write(payload, 1, 5, 64);
        for (var length = 0; length < 64; length++)
            Assert.NotEqual(TestPayloadStatus.Ok, TestPayload.Verify(payload.AsSpan(0, length), 1, out _));
        Assert.Equal(TestPayloadStatus.TooShort, TestPayload.Verify(payload.AsSpan(0, 15), 1, out _));
        Assert.Equal(TestPayloadStatus.LengthMismatch, TestPayload.Verify(payload.AsSpan(0, 63), 1, out _));
        Assert.Equal(TestPayloadStatus.LengthMismatch, TestPayload.Verify(payload.Concat(new byte[1]).ToArray(), 1, out _));
    }

    [Fact]
    public void An_intact_packet_of_another_channel_is_wrong_channel_and_a_forged_channel_field_is_corrupt()
    {
        var payload = new byte[100];
        TestPayload.Write(payload, 2, 5, 100);
        Assert.Equal(TestPayloadStatus.WrongChannel, TestPayload.Verify(payload, 1, out _));

        payload[9] = 1; // the channel field rewritten to the expected channel: the pattern no longer matches
        Assert.Equal(TestPayloadStatus.Corrupt, TestPayload.Verify(payload, 1, out _));
    }

    [Fact]
    public void Patterns_differ_between_sequences_and_channels()
    {
        byte[] A(ushort channel, ulong sequence)
        {
            var p = new byte[64];
            TestPayload.Write(p, channel, sequence, 64);
            return p[16..];
        }
        Assert.NotEqual(A(1, 1), A(1, 2));
        Assert.NotEqual(A(1, 1), A(2, 1));
    }

    [Fact]
    public void A_whole_packet_carries_header_and_payload()
    {
        var packet = new byte[200];
        Assert.Equal(200, TestPayload.WritePacket(packet, 9, 0x1_0000_0005, priority: 6, packetSize: 200, timestampNs: 77));
        Assert.True(PacketHeader.TryRead(packet, out var header));
        Assert.Equal((true, (ushort)9, 5u, (byte)6, 77ul), (header.IsData, header.Channel, header.Sequence, header.Priority, header.TimestampNs));
        Assert.Equal(TestPayloadStatus.Ok, TestPayload.Verify(packet.AsSpan(16), 9, out var sequence));
        Assert.Equal(0x1_0000_0005ul, sequence);
    }
}
