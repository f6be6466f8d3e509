using FastRelay.Protocols.Moq.Clients;
using Xunit;

namespace FastRelay.Tests.Moq.Clients;

/// <summary>The synthetic payload header: what a subscriber relies on to call an object intact.</summary>
public sealed class PayloadHeaderTests
{
    private static readonly PlannedObject Planned = new(TrackSequence: 41, GroupId: 7, SubgroupId: 1, ObjectId: 3, Priority: 96,
        Size: 1200, IsKey: false, DueMicroseconds: 0, OpensSubgroup: false, ClosesSubgroup: false);

    private static byte[] Payload(in PlannedObject planned, long sendUs = 1_700_000_000_000_000)
    {
        var payload = new byte[planned.Size];
        SyntheticPayload.Write(payload, planned, sendUs);
        return payload;
    }

    [Fact]
    public void A_written_payload_verifies_and_reads_back_every_field()
    {
        var payload = Payload(Planned, sendUs: 1_765_000_000_123_456);

        Assert.Equal(PayloadVerdict.Ok, ObjectPayloadHeader.Verify(payload, out var header));
        Assert.Equal(new ObjectPayloadHeader(41, 7, 3, 1_765_000_000_123_456, 1200, IsKey: false), header);
        Assert.Equal("MQFR"u8.ToArray(), payload[..4]);
    }

    [Fact]
    public void Flipping_any_single_byte_is_detected()
    {
        var original = Payload(Planned);
        for (var i = 0; i < original.Length; i++)
        {
            var damaged = (byte[])original.Clone();
            damaged[i] ^= 0x20;
            var verdict = ObjectPayloadHeader.Verify(damaged, out _);
            Assert.True(verdict != PayloadVerdict.Ok, $"byte {i} flipped went unnoticed");
        }
    }

    [Fact]
    public void Truncated_and_extended_payloads_are_length_failures()
    {
        var payload = Payload(Planned);
        Assert.Equal(PayloadVerdict.Truncated, ObjectPayloadHeader.Verify(payload.AsSpan(0, payload.Length - 1), out _));
        Assert.Equal(PayloadVerdict.Truncated, ObjectPayloadHeader.Verify(payload.AsSpan(0, 20), out _));
        Assert.Equal(PayloadVerdict.TooLong, ObjectPayloadHeader.Verify([.. payload, 0], out _));
    }

    [Fact]
    public void Raw_bytes_are_not_stamped()
    {
        Assert.Equal(PayloadVerdict.NotStamped, ObjectPayloadHeader.Verify("\0\0\0\u0018ftypcmfc"u8, out _));
        Assert.Equal(PayloadVerdict.NotStamped, ObjectPayloadHeader.Verify([], out _));
    }

    [Fact]
    public void Two_objects_of_the_same_size_have_different_bodies()
    {
        var a = Payload(Planned);
        var b = Payload(Planned with { TrackSequence = 42, ObjectId = 4 });
        Assert.False(a.AsSpan(ObjectPayloadHeader.Size).SequenceEqual(b.AsSpan(ObjectPayloadHeader.Size)));
    }

    [Fact]
    public void A_stamped_input_chunk_carries_the_chunk_after_the_header()
    {
        var chunk = "moof....mdat...."u8.ToArray();
        var payload = SyntheticPayload.Stamp(chunk, trackSequence: 5, groupId: 2, objectId: 1, isKey: false, sendTimeMicroseconds: 99);

        Assert.Equal(PayloadVerdict.Ok, ObjectPayloadHeader.Verify(payload, out var header));
        Assert.Equal((5UL, 2UL, 1UL, 99L), (header.TrackSequence, header.GroupId, header.ObjectId, header.SendTimeMicroseconds));
        Assert.Equal(chunk, payload[ObjectPayloadHeader.Size..]);
    }
}
