namespace FastRelay.Protocols.Moq.Wire.Messages;

/// <summary>SUBSCRIBE (0x3): Request ID, Full Track Name, Parameters (filter, priority, group order, forward, ...).</summary>
public sealed record MoqSubscribe(ulong RequestId, MoqFullTrackName Track, MoqMessageParameters Parameters) : MoqControlMessage, IMoqRequestMessage
{
    public override MoqMessageType Type => MoqMessageType.Subscribe;

    public override void WriteBody(MoqWriter writer)
    {
        writer.WriteVarint(RequestId);
        Track.Write(writer);
        Parameters.Write(writer);
    }

    public static bool TryParseBody(ref MoqReader r, out MoqSubscribe message, out MoqError error)
    {
        message = null!;
        if (!r.TryReadVarint(out ulong id)) { error = MoqError.Protocol("truncated SUBSCRIBE"); return false; }
        if (!MoqFullTrackName.TryRead(ref r, out var track, out error)) return false;
        if (!MoqMessageParameters.TryRead(ref r, MoqParameterScope.Subscribe, out var parameters, out error)) return false;
        message = new MoqSubscribe(id, track, parameters);
        return true;
    }
}
