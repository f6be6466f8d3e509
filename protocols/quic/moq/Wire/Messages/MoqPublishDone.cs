namespace FastRelay.Protocols.Moq.Wire.Messages;

/// <summary>
/// PUBLISH_DONE (0xB): the last message a publisher sends on a subscription's stream: a status, the number of data
/// streams it opened (2^62-1 when unknown) and a reason.
/// </summary>
public sealed record MoqPublishDone(ulong StatusCode, ulong StreamCount, string Reason) : MoqControlMessage
{
    public const ulong UnknownStreamCount = (1UL << 62) - 1;

    public MoqPublishDone(MoqPublishDoneCode status, ulong streamCount, string reason) : this((ulong)status, streamCount, reason) { }

    public override MoqMessageType Type => MoqMessageType.PublishDone;

    public override void WriteBody(MoqWriter writer)
    {
        writer.WriteVarint(StatusCode);
        writer.WriteVarint(StreamCount);
        MoqReasonPhrase.Write(writer, Reason);
    }

    public static bool TryParseBody(ref MoqReader r, out MoqPublishDone message, out MoqError error)
    {
        message = null!;
        if (!r.TryReadVarint(out ulong status) || !r.TryReadVarint(out ulong count)) { error = MoqError.Protocol("truncated PUBLISH_DONE"); return false; }
        if (!MoqReasonPhrase.TryRead(ref r, out string reason, out error)) return false;
        message = new MoqPublishDone(status, count, reason);
        return true;
    }
}
