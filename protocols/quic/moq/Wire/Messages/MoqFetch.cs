namespace FastRelay.Protocols.Moq.Wire.Messages;

/// <summary>Fetch Type of a FETCH (§"FETCH").</summary>
public enum MoqFetchType : ulong
{
    Standalone = 0x1,
    RelativeJoining = 0x2,
    AbsoluteJoining = 0x3,
}

/// <summary>A standalone fetch: a track and [Start, End) where End.Object 0 means "all of End.Group".</summary>
public sealed record MoqStandaloneFetch(MoqFullTrackName Track, MoqLocation Start, MoqLocation End);

/// <summary>A joining fetch: the subscription's Request ID and a group count back (relative) or a start group (absolute).</summary>
public readonly record struct MoqJoiningFetch(ulong JoiningRequestId, ulong JoiningStart);

/// <summary>FETCH (0x16): past objects of a track, on a new request stream; objects come on one FETCH_HEADER stream.</summary>
public sealed record MoqFetch(ulong RequestId, MoqFetchType FetchType, MoqStandaloneFetch? Standalone, MoqJoiningFetch? Joining,
    MoqMessageParameters Parameters) : MoqControlMessage, IMoqRequestMessage
{
    public override MoqMessageType Type => MoqMessageType.Fetch;

    public static MoqFetch CreateStandalone(ulong requestId, MoqFullTrackName track, MoqLocation start, MoqLocation end, MoqMessageParameters? parameters = null) =>
        new(requestId, MoqFetchType.Standalone, new MoqStandaloneFetch(track, start, end), null, parameters ?? new());

    public static MoqFetch CreateJoining(ulong requestId, bool relative, ulong joiningRequestId, ulong joiningStart, MoqMessageParameters? parameters = null) =>
        new(requestId, relative ? MoqFetchType.RelativeJoining : MoqFetchType.AbsoluteJoining, null, new MoqJoiningFetch(joiningRequestId, joiningStart), parameters ?? new());

    public override void WriteBody(MoqWriter writer)
    {
        writer.WriteVarint(RequestId);
        writer.WriteVarint((ulong)FetchType);
        if (FetchType == MoqFetchType.Standalone)
        {
            var s = Standalone ?? throw new InvalidOperationException("standalone fetch without its fields");
            s.Track.Write(writer);
            writer.WriteLocation(s.Start);
            writer.WriteLocation(s.End);
        }
        else
        {
            var j = Joining ?? throw new InvalidOperationException("joining fetch without its fields");
            writer.WriteVarint(j.JoiningRequestId);
            writer.WriteVarint(j.JoiningStart);
        }
        Parameters.Write(writer);
    }

    public static bool TryParseBody(ref MoqReader r, out MoqFetch message, out MoqError error)
    {
        message = null!;
        if (!r.TryReadVarint(out ulong id) || !r.TryReadVarint(out ulong type)) { error = MoqError.Protocol("truncated FETCH"); return false; }
        MoqStandaloneFetch? standalone = null;
        MoqJoiningFetch? joining = null;
        switch ((MoqFetchType)type)
        {
            case MoqFetchType.Standalone:
                if (!MoqFullTrackName.TryRead(ref r, out var track, out error)) return false;
                if (!r.TryReadLocation(out var start) || !r.TryReadLocation(out var end)) { error = MoqError.Protocol("truncated FETCH range"); return false; }
                standalone = new MoqStandaloneFetch(track, start, end);
                break;
            case MoqFetchType.RelativeJoining:
            case MoqFetchType.AbsoluteJoining:
                if (!r.TryReadVarint(out ulong joinId) || !r.TryReadVarint(out ulong joinStart)) { error = MoqError.Protocol("truncated joining FETCH"); return false; }
                joining = new MoqJoiningFetch(joinId, joinStart);
                break;
            default:
                error = MoqError.Protocol("unknown fetch type");
                return false;
        }
        if (!MoqMessageParameters.TryRead(ref r, MoqParameterScope.Fetch, out var parameters, out error)) return false;
        message = new MoqFetch(id, (MoqFetchType)type, standalone, joining, parameters);
        return true;
    }
}
