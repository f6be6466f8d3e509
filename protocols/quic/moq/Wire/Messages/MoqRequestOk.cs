namespace FastRelay.Protocols.Moq.Wire.Messages;

/// <summary>
/// REQUEST_OK (0x7): success for PUBLISH (PUBLISH_OK), REQUEST_UPDATE, TRACK_STATUS, SUBSCRIBE_NAMESPACE,
/// SUBSCRIBE_TRACKS and PUBLISH_NAMESPACE. Track Properties are only non-empty in TRACK_STATUS_OK.
/// </summary>
public sealed record MoqRequestOk(MoqMessageParameters Parameters, IReadOnlyList<MoqKeyValuePair> TrackProperties) : MoqControlMessage
{
    public MoqRequestOk() : this(new MoqMessageParameters(), Array.Empty<MoqKeyValuePair>()) { }

    public override MoqMessageType Type => MoqMessageType.RequestOk;

    public override void WriteBody(MoqWriter writer)
    {
        Parameters.Write(writer);
        MoqKeyValueList.Write(writer, TrackProperties);
    }

    public static bool TryParseBody(ref MoqReader r, out MoqRequestOk message, out MoqError error)
    {
        message = null!;
        if (!MoqMessageParameters.TryRead(ref r, MoqParameterScope.RequestOk, out var parameters, out error)) return false;
        if (!MoqControlMessageCodec.TryReadTrackProperties(ref r, out var properties, out error)) return false;
        message = new MoqRequestOk(parameters, properties);
        return true;
    }
}
