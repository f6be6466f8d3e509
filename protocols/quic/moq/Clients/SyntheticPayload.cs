namespace FastRelay.Protocols.Moq.Clients;

/// <summary>
/// Fills a synthetic object's payload: the <see cref="ObjectPayloadHeader"/> and a body of pseudo-random bytes that
/// differ from object to object (a fixed 8 KiB pattern read from an offset that depends on the track sequence), so a
/// relay that delivered the right length from the wrong object fails the checksum. Cheap: a copy, not a generator run
/// per byte, so the publisher's CPU does not limit a benchmark.
/// </summary>
public static class SyntheticPayload
{
    private const int PatternLength = 8192;
    private static readonly byte[] Pattern = MakePattern();

    /// <summary>Writes the whole object into <paramref name="payload"/>, which must be exactly <c>planned.Size</c> bytes.</summary>
    public static void Write(Span<byte> payload, in PlannedObject planned, long sendTimeMicroseconds)
    {
        if (payload.Length != planned.Size) throw new ArgumentException("payload must be exactly the planned size", nameof(payload));
        FillBody(payload[ObjectPayloadHeader.Size..], planned.TrackSequence);
        new ObjectPayloadHeader(planned.TrackSequence, planned.GroupId, planned.ObjectId, sendTimeMicroseconds, (uint)payload.Length, planned.IsKey)
            .WriteWithChecksum(payload);
    }

    /// <summary>Prefixes an input chunk (<c>--input --stamp</c>) with the header: the result is header + chunk.</summary>
    public static byte[] Stamp(ReadOnlySpan<byte> chunk, ulong trackSequence, ulong groupId, ulong objectId, bool isKey, long sendTimeMicroseconds)
    {
        var payload = new byte[ObjectPayloadHeader.Size + chunk.Length];
        chunk.CopyTo(payload.AsSpan(ObjectPayloadHeader.Size));
        new ObjectPayloadHeader(trackSequence, groupId, objectId, sendTimeMicroseconds, (uint)payload.Length, isKey).WriteWithChecksum(payload);
        return payload;
    }

    private static void FillBody(Span<byte> body, ulong sequence)
    {
        var offset = (int)(sequence * 131 % (PatternLength / 2));
        while (!body.IsEmpty)
        {
            var n = Math.Min(body.Length, PatternLength - offset);
            Pattern.AsSpan(offset, n).CopyTo(body);
            body = body[n..];
            offset = 0;
        }
    }

    private static byte[] MakePattern()
    {
        var pattern = new byte[PatternLength];
        new Random(0x4D51).NextBytes(pattern); // seeded: the same bytes in every process, though nothing depends on it
        return pattern;
    }
}
