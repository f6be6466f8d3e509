using System.Text;

namespace FastRelay.Protocols.Moq.Wire.Messages;

/// <summary>
/// Where to retry a request (§"Redirect Structure"): a Connect URI (empty = this session) and a namespace and name
/// (both empty = the original ones; the name is empty for namespace requests).
/// </summary>
public sealed record MoqRedirect(string ConnectUri, MoqTrackNamespace Namespace, ReadOnlyMemory<byte> TrackName)
{
    public bool Equals(MoqRedirect? other) =>
        other is not null && ConnectUri == other.ConnectUri && Namespace.Equals(other.Namespace) && TrackName.Span.SequenceEqual(other.TrackName.Span);
    public override int GetHashCode() => HashCode.Combine(ConnectUri, Namespace);
}

/// <summary>
/// REQUEST_ERROR (0x5): failure of any request. Retry Interval is milliseconds plus one (0 = do not retry). A Redirect
/// follows exactly when the code is REDIRECT.
/// </summary>
public sealed record MoqRequestError(ulong ErrorCode, ulong RetryInterval, string Reason, MoqRedirect? Redirect = null) : MoqControlMessage
{
    public MoqRequestError(MoqRequestErrorCode code, string reason, ulong retryInterval = 0, MoqRedirect? redirect = null)
        : this((ulong)code, retryInterval, reason, redirect) { }

    public override MoqMessageType Type => MoqMessageType.RequestError;

    public override void WriteBody(MoqWriter writer)
    {
        writer.WriteVarint(ErrorCode);
        writer.WriteVarint(RetryInterval);
        MoqReasonPhrase.Write(writer, Reason);
        if (ErrorCode == (ulong)MoqRequestErrorCode.Redirect)
        {
            var redirect = Redirect ?? throw new InvalidOperationException("REDIRECT needs a Redirect");
            writer.WriteLengthPrefixedUtf8(redirect.ConnectUri);
            redirect.Namespace.Write(writer);
            writer.WriteLengthPrefixed(redirect.TrackName.Span);
        }
    }

    public static bool TryParseBody(ref MoqReader r, out MoqRequestError message, out MoqError error)
    {
        message = null!;
        if (!r.TryReadVarint(out ulong code) || !r.TryReadVarint(out ulong retry)) { error = MoqError.Protocol("truncated REQUEST_ERROR"); return false; }
        if (!MoqReasonPhrase.TryRead(ref r, out string reason, out error)) return false;
        MoqRedirect? redirect = null;
        if (code == (ulong)MoqRequestErrorCode.Redirect)
        {
            if (!r.TryReadLengthPrefixed(MoqGoAway.MaxUriLength, out var uri, out _)) { error = MoqError.Protocol("truncated redirect URI"); return false; }
            if (!MoqTrackNamespace.TryRead(ref r, out var ns, out error)) return false;
            if (!MoqFullTrackName.TryReadName(ref r, ns.ByteLength, out byte[] name, out error)) return false;
            redirect = new MoqRedirect(Encoding.UTF8.GetString(uri.Span), ns, name);
        }
        message = new MoqRequestError(code, retry, reason, redirect);
        return true;
    }
}
