namespace FastRelay.Protocols.Moq.Wire.Messages;

/// <summary>PUBLISH (0x1D): a publisher starts a subscription itself; answered by REQUEST_OK (PUBLISH_OK) or REQUEST_ERROR.</summary>
public sealed record MoqPublish(ulong RequestId, MoqFullTrackName Track, ulong TrackAlias, MoqMessageParameters Parameters,
    IReadOnlyList<MoqKeyValuePair> TrackProperties) : MoqControlMessage, IMoqRequestMessage
{
    public override MoqMessageType Type => MoqMessageType.Publish;

    public override void WriteBody(MoqWriter writer)
    {
        writer.WriteVarint(RequestId);
        Track.Write(writer);
        writer.WriteVarint(TrackAlias);
        Parameters.Write(writer);
        MoqKeyValueList.Write(writer, TrackProperties);
    }

    public static bool TryParseBody(ref MoqReader r, out MoqPublish message, out MoqError error)
    {
        message = null!;
        if (!r.TryReadVarint(out ulong id)) { error = MoqError.Protocol("truncated PUBLISH"); return false; }
        if (!MoqFullTrackName.TryRead(ref r, out var track, out error)) return false;
        if (!r.TryReadVarint(out ulong alias)) { error = MoqError.Protocol("truncated PUBLISH track alias"); return false; }
        if (!MoqMessageParameters.TryRead(ref r, MoqParameterScope.Publish, out var parameters, out error)) return false;
        if (!MoqControlMessageCodec.TryReadTrackProperties(ref r, out var properties, out error)) return false;
        message = new MoqPublish(id, track, alias, parameters, properties);
        return true;
    }
}
