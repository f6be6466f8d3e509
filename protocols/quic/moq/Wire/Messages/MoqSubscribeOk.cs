namespace FastRelay.Protocols.Moq.Wire.Messages;

/// <summary>SUBSCRIBE_OK (0x4): the Track Alias objects will carry, Parameters (largest object, expires), Track Properties.</summary>
public sealed record MoqSubscribeOk(ulong TrackAlias, MoqMessageParameters Parameters, IReadOnlyList<MoqKeyValuePair> TrackProperties) : MoqControlMessage
{
    public override MoqMessageType Type => MoqMessageType.SubscribeOk;

    public override void WriteBody(MoqWriter writer)
    {
        writer.WriteVarint(TrackAlias);
        Parameters.Write(writer);
        MoqKeyValueList.Write(writer, TrackProperties);
    }

    public static bool TryParseBody(ref MoqReader r, out MoqSubscribeOk message, out MoqError error)
    {
        message = null!;
        if (!r.TryReadVarint(out ulong alias)) { error = MoqError.Protocol("truncated SUBSCRIBE_OK"); return false; }
        if (!MoqMessageParameters.TryRead(ref r, MoqParameterScope.SubscribeOk, out var parameters, out error)) return false;
        if (!MoqControlMessageCodec.TryReadTrackProperties(ref r, out var properties, out error)) return false;
        message = new MoqSubscribeOk(alias, parameters, properties);
        return true;
    }
}
