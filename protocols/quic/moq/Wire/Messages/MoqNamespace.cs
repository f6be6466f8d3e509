namespace FastRelay.Protocols.Moq.Wire.Messages;

/// <summary>NAMESPACE (0x8): on a SUBSCRIBE_NAMESPACE response stream, a namespace (suffix after the prefix) now exists.</summary>
public sealed record MoqNamespace(MoqTrackNamespace Suffix) : MoqControlMessage
{
    public override MoqMessageType Type => MoqMessageType.Namespace;

    public override void WriteBody(MoqWriter writer) => Suffix.Write(writer);

    public static bool TryParseBody(ref MoqReader r, out MoqNamespace message, out MoqError error)
    {
        message = null!;
        if (!MoqTrackNamespace.TryRead(ref r, out var ns, out error)) return false;
        message = new MoqNamespace(ns);
        return true;
    }
}

/// <summary>NAMESPACE_DONE (0xE): a namespace announced by NAMESPACE is gone.</summary>
public sealed record MoqNamespaceDone(MoqTrackNamespace Suffix) : MoqControlMessage
{
    public override MoqMessageType Type => MoqMessageType.NamespaceDone;

    public override void WriteBody(MoqWriter writer) => Suffix.Write(writer);

    public static bool TryParseBody(ref MoqReader r, out MoqNamespaceDone message, out MoqError error)
    {
        message = null!;
        if (!MoqTrackNamespace.TryRead(ref r, out var ns, out error)) return false;
        message = new MoqNamespaceDone(ns);
        return true;
    }
}
