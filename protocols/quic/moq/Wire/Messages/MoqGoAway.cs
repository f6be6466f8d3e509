using System.Text;

namespace FastRelay.Protocols.Moq.Wire.Messages;

/// <summary>
/// GOAWAY (0x10): the sender will close soon; a server may name a New Session URI (at most 8192 bytes; a client must
/// send an empty one) and a Timeout in milliseconds (0 = none). Sent on the control stream or on one request stream.
/// </summary>
public sealed record MoqGoAway(string NewSessionUri, ulong TimeoutMs) : MoqControlMessage
{
    public const int MaxUriLength = 8192;

    public override MoqMessageType Type => MoqMessageType.GoAway;

    public override void WriteBody(MoqWriter writer)
    {
        writer.WriteLengthPrefixedUtf8(NewSessionUri);
        writer.WriteVarint(TimeoutMs);
    }

    public static bool TryParseBody(ref MoqReader r, out MoqGoAway message, out MoqError error)
    {
        message = null!;
        if (!r.TryReadLengthPrefixed(MaxUriLength, out var uri, out bool tooLong))
        {
            error = MoqError.Protocol(tooLong ? "GOAWAY URI over 8192 bytes" : "truncated GOAWAY");
            return false;
        }
        if (!r.TryReadVarint(out ulong timeout)) { error = MoqError.Protocol("truncated GOAWAY timeout"); return false; }
        message = new MoqGoAway(Encoding.UTF8.GetString(uri.Span), timeout);
        error = MoqError.None;
        return true;
    }
}
