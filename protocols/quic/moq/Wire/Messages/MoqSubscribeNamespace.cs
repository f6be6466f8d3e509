namespace FastRelay.Protocols.Moq.Wire.Messages;

/// <summary>SUBSCRIBE_NAMESPACE (0x50): asks for NAMESPACE / NAMESPACE_DONE for namespaces under a prefix (0..32 fields).</summary>
public sealed record MoqSubscribeNamespace(ulong RequestId, MoqTrackNamespace Prefix, MoqMessageParameters Parameters) : MoqControlMessage, IMoqRequestMessage
{
    public override MoqMessageType Type => MoqMessageType.SubscribeNamespace;

    public override void WriteBody(MoqWriter writer)
    {
        writer.WriteVarint(RequestId);
        Prefix.Write(writer);
        Parameters.Write(writer);
    }

    public static bool TryParseBody(ref MoqReader r, out MoqSubscribeNamespace message, out MoqError error)
    {
        message = null!;
        if (!r.TryReadVarint(out ulong id)) { error = MoqError.Protocol("truncated SUBSCRIBE_NAMESPACE"); return false; }
        if (!MoqTrackNamespace.TryRead(ref r, out var prefix, out error)) return false;
        if (!MoqMessageParameters.TryRead(ref r, MoqParameterScope.SubscribeNamespace, out var parameters, out error)) return false;
        message = new MoqSubscribeNamespace(id, prefix, parameters);
        return true;
    }
}

/// <summary>SUBSCRIBE_TRACKS (0x51): asks the publisher to PUBLISH every track under a prefix (and PUBLISH_SKIPPED for the rest).</summary>
public sealed record MoqSubscribeTracks(ulong RequestId, MoqTrackNamespace Prefix, MoqMessageParameters Parameters) : MoqControlMessage, IMoqRequestMessage
{
    public override MoqMessageType Type => MoqMessageType.SubscribeTracks;

    public override void WriteBody(MoqWriter writer)
    {
        writer.WriteVarint(RequestId);
        Prefix.Write(writer);
        Parameters.Write(writer);
    }

    public static bool TryParseBody(ref MoqReader r, out MoqSubscribeTracks message, out MoqError error)
    {
        message = null!;
        if (!r.TryReadVarint(out ulong id)) { error = MoqError.Protocol("truncated SUBSCRIBE_TRACKS"); return false; }
        if (!MoqTrackNamespace.TryRead(ref r, out var prefix, out error)) return false;
        if (!MoqMessageParameters.TryRead(ref r, MoqParameterScope.SubscribeTracks, out var parameters, out error)) return false;
        message = new MoqSubscribeTracks(id, prefix, parameters);
        return true;
    }
}
