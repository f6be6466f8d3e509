namespace FastRelay.Protocols.Moq.Wire.Messages;

/// <summary>PUBLISH_SKIPPED (0xF): on a SUBSCRIBE_TRACKS stream, a track (namespace suffix + name) that will not be PUBLISHed.</summary>
public sealed record MoqPublishSkipped(MoqTrackNamespace Suffix, ReadOnlyMemory<byte> TrackName) : MoqControlMessage
{
    public override MoqMessageType Type => MoqMessageType.PublishSkipped;

    public override void WriteBody(MoqWriter writer)
    {
        Suffix.Write(writer);
        writer.WriteLengthPrefixed(TrackName.Span);
    }

    public static bool TryParseBody(ref MoqReader r, out MoqPublishSkipped message, out MoqError error)
    {
        message = null!;
        if (!MoqTrackNamespace.TryRead(ref r, out var ns, out error)) return false;
        if (!MoqFullTrackName.TryReadName(ref r, ns.ByteLength, out byte[] name, out error)) return false;
        message = new MoqPublishSkipped(ns, name);
        return true;
    }

    public bool Equals(MoqPublishSkipped? other) => other is not null && Suffix.Equals(other.Suffix) && TrackName.Span.SequenceEqual(other.TrackName.Span);
    public override int GetHashCode() => HashCode.Combine(Suffix, TrackName.Length);
}
