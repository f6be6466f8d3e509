namespace FastRelay.Protocols.Moq.Wire.Messages;

/// <summary>TRACK_STATUS (0xD): SUBSCRIBE's format; answered by REQUEST_OK (TRACK_STATUS_OK) or REQUEST_ERROR, then FIN.</summary>
public sealed record MoqTrackStatus(ulong RequestId, MoqFullTrackName Track, MoqMessageParameters Parameters) : MoqControlMessage, IMoqRequestMessage
{
    public override MoqMessageType Type => MoqMessageType.TrackStatus;

    public override void WriteBody(MoqWriter writer)
    {
        writer.WriteVarint(RequestId);
        Track.Write(writer);
        Parameters.Write(writer);
    }

    public static bool TryParseBody(ref MoqReader r, out MoqTrackStatus message, out MoqError error)
    {
        message = null!;
        if (!r.TryReadVarint(out ulong id)) { error = MoqError.Protocol("truncated TRACK_STATUS"); return false; }
        if (!MoqFullTrackName.TryRead(ref r, out var track, out error)) return false;
        if (!MoqMessageParameters.TryRead(ref r, MoqParameterScope.TrackStatus, out var parameters, out error)) return false;
        message = new MoqTrackStatus(id, track, parameters);
        return true;
    }
}
