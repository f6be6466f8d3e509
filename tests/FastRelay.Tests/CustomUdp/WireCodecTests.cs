using System.Buffers.Binary;
using FastRelay.Protocols.CustomUdp.Wire;
using Xunit;

namespace FastRelay.Tests.CustomUdp;

/// <summary>The custom-UDP header and control messages: byte layout per README, round trips, and hostile input.</summary>
public sealed class WireCodecTests
{
    private static readonly HandshakeCookie SampleCookie = new(Enumerable.Range(1, 16).Select(i => (byte)(i * 11)).ToArray());

    [Fact]
    public void Data_header_layout_is_big_endian_with_kind_priority_and_flags_in_their_bits()
    {
        var buffer = new byte[16];
        var header = PacketHeader.Data(channel: 0x0102, sequence: 0x03040506, timestampNs: 0x0708090A0B0C0D0E, priority: 5, flags: 0x13);

        Assert.Equal(16, header.Write(buffer));

        Assert.Equal(new byte[] { 0x18, 5 | 0x13 << 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 }, buffer);
        Assert.True(PacketHeader.TryRead(buffer, out var read));
        Assert.Equal(header, read);
        Assert.True(read.IsData);
        Assert.Equal(1, read.Version);
    }

    [Fact]
    public void Control_byte0_is_exactly_0x10_and_data_tolerates_the_reserved_bits_like_the_kernel_match()
    {
        var buffer = new byte[16];
        PacketHeader.Control(7, 99).Write(buffer);
        Assert.Equal(0x10, buffer[0]);
        Assert.True(PacketHeader.TryRead(buffer, out var control) && !control.IsData);

        buffer[0] = 0x1A; // DATA with reserved bits: (b0 & 0xF8) == 0x18
        Assert.True(PacketHeader.TryRead(buffer, out var data) && data.IsData);

        foreach (var bad in new byte[] { 0x11, 0x17, 0x00, 0x20, 0x28, 0x08, 0xF8 })
        {
            buffer[0] = bad;
            Assert.False(PacketHeader.TryRead(buffer, out _), $"byte0 0x{bad:x2}");
        }
        Assert.False(PacketHeader.TryRead(buffer.AsSpan(0, 15), out _));
    }

    [Fact]
    public void Header_write_rejects_out_of_range_fields()
    {
        var buffer = new byte[16];
        Assert.Throws<ArgumentException>(() => PacketHeader.Data(1, 0, 0, priority: 8).Write(buffer));
        Assert.Throws<ArgumentException>(() => PacketHeader.Data(1, 0, 0, flags: 32).Write(buffer));
        Assert.Throws<ArgumentException>(() => PacketHeader.Data(1, 0, 0).Write(new byte[15]));
    }

    [Fact]
    public void Every_control_message_round_trips_with_the_documented_size()
    {
        var buffer = new byte[2048];
        const ushort ch = 0xBEEF;
        const ulong ts = 0x1122334455667788;

        Assert.Equal(80, new Subscribe(1500, 250_000).Write(buffer, ch, ts));
        Assert.True(Subscribe.TryRead(buffer.AsSpan(0, 80), out var h, out var sub));
        Assert.Equal((ch, ts, false), (h.Channel, h.TimestampNs, h.IsData));
        Assert.Equal(new Subscribe(1500, 250_000), sub);
        Assert.True(buffer.AsSpan(16 + 9, 64 - 9).IndexOfAnyExcept((byte)0) < 0, "SUBSCRIBE padding is zero");

        Assert.Equal(80, new Publish().Write(buffer, ch, ts));
        Assert.True(Publish.TryRead(buffer.AsSpan(0, 80), out h, out _));
        Assert.Equal(ch, h.Channel);

        Assert.Equal(34, new Challenge(Role.Publisher, SampleCookie).Write(buffer, ch, ts));
        Assert.True(Challenge.TryRead(buffer.AsSpan(0, 34), out var challenge));
        Assert.Equal(new Challenge(Role.Publisher, SampleCookie), challenge);

        Assert.Equal(42, new Confirm(Role.Subscriber, SampleCookie, 7, 9).Write(buffer, ch, ts));
        Assert.True(Confirm.TryRead(buffer.AsSpan(0, 42), out var confirm));
        Assert.Equal(new Confirm(Role.Subscriber, SampleCookie, 7, 9), confirm);

        const ulong session = 0xFEDC_BA98_7654_3210;
        Assert.Equal(28, new Reply(Role.Subscriber, ReplyStatus.ChannelHasUpstream, 63, session).Write(buffer, ch, ts));
        Assert.True(Reply.TryRead(buffer.AsSpan(0, 28), out var reply));
        Assert.Equal(new Reply(Role.Subscriber, ReplyStatus.ChannelHasUpstream, 63, session), reply);

        Assert.Equal(33, new Feedback(123_456, 0xFFFF_FFFE, session).Write(buffer, ch, ts));
        Assert.True(Feedback.TryRead(buffer.AsSpan(0, 33), out var feedback));
        Assert.Equal(new Feedback(123_456, 0xFFFF_FFFE, session), feedback);

        Assert.Equal(25, new Unsubscribe(session).Write(buffer, ch, ts));
        Assert.True(Unsubscribe.TryRead(buffer.AsSpan(0, 25), out h, out var unsubscribe));
        Assert.Equal(ch, h.Channel);
        Assert.Equal(session, unsubscribe.Session);

        NackRange[] ranges = [new(5, 1), new(0xFFFF_FFFF, 3), new(1000, ushort.MaxValue)];
        var n = Nack.Write(buffer, ch, ts, session, ranges);
        Assert.Equal(16 + 11 + 3 * 6, n);
        Assert.True(Nack.TryRead(buffer.AsSpan(0, n), out var nack));
        Assert.Equal(session, nack.Session);
        Assert.Equal(3, nack.Count);
        var read = new List<NackRange>();
        foreach (var range in nack) read.Add(range);
        Assert.Equal(ranges, read);
        Assert.Equal(1 + 3 + ushort.MaxValue, nack.TotalSequences);
        Assert.True(ranges[1].Contains(1) && !ranges[1].Contains(2));

        var data = DataPacket(ch, sequence: 77, payloadLength: 40);
        n = Repair.Write(buffer, ch, ts, 12345, data);
        Assert.Equal(16 + 5 + data.Length, n);
        Assert.True(Repair.TryRead(buffer.AsSpan(0, n), out h, out var repair));
        Assert.Equal(12345u, repair.Sequence);
        Assert.Equal(12345u, h.Sequence);                  // the CONTROL header names it too
        Assert.Equal(12345u, repair.DataHeader.Sequence);  // and the embedded DATA header
        Assert.True(repair.DataPacket[16..].SequenceEqual(data.AsSpan(16)));

        n = History.Write(buffer, ch, ts, data);
        Assert.Equal(16 + 1 + data.Length, n);
        Assert.True(History.TryRead(buffer.AsSpan(0, n), out var history));
        Assert.True(history.DataPacket.SequenceEqual(data)); // as the publisher sent it
        Assert.Equal(77u, history.DataHeader.Sequence);
    }

    [Fact]
    public void No_answer_to_an_unauthenticated_request_is_larger_than_the_request()
    {
        var smallestRequest = Math.Min(CustomUdpWire.SubscribePacketSize, CustomUdpWire.PublishPacketSize);
        Assert.True(CustomUdpWire.ChallengePacketSize <= smallestRequest);
        // A forged CONFIRM (bad cookie) gets a REPLY: smaller still.
        Assert.True(CustomUdpWire.ReplyPacketSize <= CustomUdpWire.ConfirmPacketSize);
        // And an unpadded SUBSCRIBE/PUBLISH is not a request at all.
        var buffer = new byte[80];
        new Subscribe(1, 2).Write(buffer, 1, 0);
        Assert.False(Subscribe.TryRead(buffer.AsSpan(0, 16 + 9), out _));
        new Publish().Write(buffer, 1, 0);
        Assert.False(Publish.TryRead(buffer.AsSpan(0, 17), out _));
    }

    [Fact]
    public void Type_is_checked_so_one_message_never_parses_as_another()
    {
        var buffer = new byte[128];
        var n = new Feedback(1, 2).Write(buffer, 1, 0);
        var packet = buffer.AsSpan(0, n);
        Assert.True(ControlMessage.TryReadType(packet, out _, out var type) && type == ControlType.Feedback);
        Assert.False(Subscribe.TryRead(packet, out _));
        Assert.False(Unsubscribe.TryRead(packet, out _));
        Assert.False(Nack.TryRead(packet, out _));

        // DATA is never a control message, whatever its payload starts with.
        var data = DataPacket(1, 0, 64);
        data[16] = (byte)ControlType.Subscribe;
        Assert.False(Subscribe.TryRead(data, out _));
        Assert.False(ControlMessage.TryReadType(data, out _, out _));

        buffer[16] = 0;
        Assert.False(ControlMessage.TryReadType(packet, out _, out _));
        buffer[16] = 11;
        Assert.False(ControlMessage.TryReadType(packet, out _, out _));
    }

    [Fact]
    public void Invalid_field_values_are_rejected()
    {
        var buffer = new byte[64];
        var n = new Reply(Role.Publisher, ReplyStatus.Accepted, 0).Write(buffer, 1, 0);
        buffer[18] = 4; // unknown status
        Assert.False(Reply.TryRead(buffer.AsSpan(0, n), out _));
        buffer[18] = 0;
        buffer[17] = 3; // unknown role
        Assert.False(Reply.TryRead(buffer.AsSpan(0, n), out _));

        n = new Challenge(Role.Subscriber, SampleCookie).Write(buffer, 1, 0);
        buffer[17] = 0;
        Assert.False(Challenge.TryRead(buffer.AsSpan(0, n), out _));

        n = Nack.Write(buffer, 1, 0, 7, [new NackRange(1, 2)]);
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(16 + 11 + 4), 0); // zero-length range
        Assert.False(Nack.TryRead(buffer.AsSpan(0, n), out _));
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(16 + 11 + 4), 1);
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(25), 0);           // count 0
        Assert.False(Nack.TryRead(buffer.AsSpan(0, 27), out _));
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(25), 2);           // count larger than the body
        Assert.False(Nack.TryRead(buffer.AsSpan(0, n), out _));

        Assert.Throws<ArgumentException>(() => Nack.Write(buffer, 1, 0, 7, []));
        Assert.Throws<ArgumentException>(() => Nack.Write(new byte[4096], 1, 0, 7, new NackRange[CustomUdpWire.MaxNackRanges + 1]));
        Assert.Throws<ArgumentException>(() => new Confirm(Role.Publisher, SampleCookie, 0, 0).Write(new byte[41], 1, 0));
    }

    /// <summary>Every encoded message, as the list the property tests walk.</summary>
    public static TheoryData<string> MessageNames => new(Encoded().Select(e => e.Name));

    [Theory]
    [MemberData(nameof(MessageNames))]
    public void Every_truncation_of_every_message_is_rejected(string name)
    {
        var (_, packet, tryRead) = Encoded().Single(e => e.Name == name);
        Assert.True(tryRead(packet), "the whole message parses");
        for (var length = 0; length < packet.Length; length++)
            Assert.False(tryRead(packet[..length]), $"{name} truncated to {length} of {packet.Length} bytes");
    }

    [Fact]
    public void Random_bytes_never_throw_and_mutated_messages_never_throw()
    {
        var random = new Random(7400);
        var readers = Encoded().Select(e => e.TryRead).Append(b => PacketHeader.TryRead(b, out _))
            .Append(b => ControlMessage.TryReadType(b, out _, out _)).ToArray();
        var buffer = new byte[200];
        for (var i = 0; i < 20_000; i++)
        {
            var length = random.Next(buffer.Length);
            random.NextBytes(buffer.AsSpan(0, length));
            if (length > 0 && i % 2 == 0) buffer[0] = (byte)(i % 4 == 0 ? 0x10 : 0x18); // get past the header check
            if (length > 16 && i % 4 == 0) buffer[16] = (byte)random.Next(0, 12);
            foreach (var read in readers)
                read(buffer.AsSpan(0, length).ToArray()); // must not throw, whatever it returns
        }

        // Valid messages with one byte changed: parse or not, but never throw.
        foreach (var (_, packet, _) in Encoded())
            for (var i = 0; i < packet.Length; i++)
            {
                var copy = packet.ToArray();
                copy[i] ^= (byte)random.Next(1, 256);
                foreach (var read in readers) read(copy);
            }
    }

    private static IEnumerable<(string Name, byte[] Packet, Func<byte[], bool> TryRead)> Encoded()
    {
        var data = DataPacket(3, 9, 0); // header only, so no truncation is a valid shorter DATA packet
        yield return ("DATA header", data, b => PacketHeader.TryRead(b, out _));
        yield return ("SUBSCRIBE", Encode(b => new Subscribe(100, 200).Write(b, 3, 1)), b => Subscribe.TryRead(b, out _));
        yield return ("PUBLISH", Encode(b => new Publish().Write(b, 3, 1)), b => Publish.TryRead(b, out _));
        yield return ("CHALLENGE", Encode(b => new Challenge(Role.Subscriber, SampleCookie).Write(b, 3, 1)), b => Challenge.TryRead(b, out _));
        yield return ("CONFIRM", Encode(b => new Confirm(Role.Publisher, SampleCookie, 0, 0).Write(b, 3, 1)), b => Confirm.TryRead(b, out _));
        yield return ("REPLY", Encode(b => new Reply(Role.Publisher, ReplyStatus.Accepted, 4).Write(b, 3, 1)), b => Reply.TryRead(b, out _));
        yield return ("FEEDBACK", Encode(b => new Feedback(5, 6).Write(b, 3, 1)), b => Feedback.TryRead(b, out _));
        yield return ("NACK", Encode(b => Nack.Write(b, 3, 1, 7, [new NackRange(1, 1), new NackRange(10, 4), new NackRange(99, 2)])), b => Nack.TryRead(b, out _));
        yield return ("REPAIR", Encode(b => Repair.Write(b, 3, 1, 42, data)), b => Repair.TryRead(b, out _));
        yield return ("HISTORY", Encode(b => History.Write(b, 3, 1, data)), b => History.TryRead(b, out _));
        yield return ("UNSUBSCRIBE", Encode(b => new Unsubscribe().Write(b, 3, 1)), b => Unsubscribe.TryRead(b, out _));
    }

    private delegate int Writer(Span<byte> destination);

    private static byte[] Encode(Writer write)
    {
        var buffer = new byte[1024];
        return buffer[..write(buffer)];
    }

    internal static byte[] DataPacket(ushort channel, uint sequence, int payloadLength)
    {
        var packet = new byte[16 + payloadLength];
        PacketHeader.Data(channel, sequence, 1234, priority: 2).Write(packet);
        if (payloadLength >= TestPayload.MinSize) TestPayload.Write(packet.AsSpan(16), channel, sequence, payloadLength);
        return packet;
    }
}
