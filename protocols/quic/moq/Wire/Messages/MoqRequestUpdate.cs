namespace FastRelay.Protocols.Moq.Wire.Messages;

/// <summary>REQUEST_UPDATE (0x2): sent on a request's own stream with a new Request ID; changes some of its parameters.</summary>
public sealed record MoqRequestUpdate(ulong RequestId, MoqMessageParameters Parameters) : MoqControlMessage, IMoqRequestMessage
{
    public override MoqMessageType Type => MoqMessageType.RequestUpdate;

    public override void WriteBody(MoqWriter writer)
    {
        writer.WriteVarint(RequestId);
        Parameters.Write(writer);
    }

    public static bool TryParseBody(ref MoqReader r, out MoqRequestUpdate message, out MoqError error)
    {
        message = null!;
        if (!r.TryReadVarint(out ulong id)) { error = MoqError.Protocol("truncated REQUEST_UPDATE"); return false; }
        if (!MoqMessageParameters.TryRead(ref r, MoqParameterScope.RequestUpdate, out var parameters, out error)) return false;
        message = new MoqRequestUpdate(id, parameters);
        return true;
    }
}
