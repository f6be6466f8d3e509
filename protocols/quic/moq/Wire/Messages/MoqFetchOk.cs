namespace FastRelay.Protocols.Moq.Wire.Messages;

/// <summary>FETCH_OK (0x18): End Of Track flag, the End Location actually covered (FETCH's encoding), Parameters, Track Properties.</summary>
public sealed record MoqFetchOk(bool EndOfTrack, MoqLocation EndLocation, MoqMessageParameters Parameters,
    IReadOnlyList<MoqKeyValuePair> TrackProperties) : MoqControlMessage
{
    public override MoqMessageType Type => MoqMessageType.FetchOk;

    public override void WriteBody(MoqWriter writer)
    {
        writer.WriteByte(EndOfTrack ? (byte)1 : (byte)0);
        writer.WriteLocation(EndLocation);
        Parameters.Write(writer);
        MoqKeyValueList.Write(writer, TrackProperties);
    }

    public static bool TryParseBody(ref MoqReader r, out MoqFetchOk message, out MoqError error)
    {
        message = null!;
        if (!r.TryReadByte(out byte endOfTrack) || !r.TryReadLocation(out var end)) { error = MoqError.Protocol("truncated FETCH_OK"); return false; }
        if (endOfTrack > 1) { error = MoqError.Protocol("FETCH_OK End Of Track must be 0 or 1"); return false; }
        if (!MoqMessageParameters.TryRead(ref r, MoqParameterScope.FetchOk, out var parameters, out error)) return false;
        if (!MoqControlMessageCodec.TryReadTrackProperties(ref r, out var properties, out error)) return false;
        message = new MoqFetchOk(endOfTrack == 1, end, parameters, properties);
        return true;
    }
}
