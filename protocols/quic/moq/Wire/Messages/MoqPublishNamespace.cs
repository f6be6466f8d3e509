namespace FastRelay.Protocols.Moq.Wire.Messages;

/// <summary>PUBLISH_NAMESPACE (0x6): the sender has tracks under a namespace; answered by REQUEST_OK or REQUEST_ERROR.</summary>
public sealed record MoqPublishNamespace(ulong RequestId, MoqTrackNamespace Namespace, MoqMessageParameters Parameters) : MoqControlMessage, IMoqRequestMessage
{
    public override MoqMessageType Type => MoqMessageType.PublishNamespace;

    public override void WriteBody(MoqWriter writer)
    {
        writer.WriteVarint(RequestId);
        Namespace.Write(writer);
        Parameters.Write(writer);
    }

    public static bool TryParseBody(ref MoqReader r, out MoqPublishNamespace message, out MoqError error)
    {
        message = null!;
        if (!r.TryReadVarint(out ulong id)) { error = MoqError.Protocol("truncated PUBLISH_NAMESPACE"); return false; }
        if (!MoqTrackNamespace.TryRead(ref r, out var ns, out error)) return false;
        if (!MoqMessageParameters.TryRead(ref r, MoqParameterScope.PublishNamespace, out var parameters, out error)) return false;
        message = new MoqPublishNamespace(id, ns, parameters);
        return true;
    }
}
