namespace FastRelay.Protocols.Moq.Wire.Messages;

/// <summary>
/// SETUP (0x2F00): the first message on each peer's control stream; its type doubles as the stream type. The body is
/// Setup Options as Key-Value-Pairs up to the end of the message.
/// </summary>
public sealed record MoqSetup(MoqSetupOptions Options) : MoqControlMessage
{
    public override MoqMessageType Type => MoqMessageType.Setup;

    public override void WriteBody(MoqWriter writer) => MoqKeyValueList.Write(writer, Options.ToPairs());

    public static bool TryParseBody(ref MoqReader r, out MoqSetup message, out MoqError error)
    {
        message = null!;
        var pairs = new List<MoqKeyValuePair>();
        if (!MoqKeyValueList.TryParse(ref r, pairs, out error)) return false;
        if (!MoqSetupOptions.TryParse(pairs, out var options, out error)) return false;
        message = new MoqSetup(options);
        return true;
    }
}
