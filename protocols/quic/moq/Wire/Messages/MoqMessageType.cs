namespace FastRelay.Protocols.Moq.Wire.Messages;

/// <summary>Control message types of draft-19 (§"Control Messages").</summary>
public enum MoqMessageType : ulong
{
    RequestUpdate = 0x2,
    Subscribe = 0x3,
    SubscribeOk = 0x4,
    RequestError = 0x5,
    PublishNamespace = 0x6,
    RequestOk = 0x7,
    Namespace = 0x8,
    PublishDone = 0xB,
    TrackStatus = 0xD,
    NamespaceDone = 0xE,
    PublishSkipped = 0xF,
    GoAway = 0x10,
    Fetch = 0x16,
    FetchOk = 0x18,
    Publish = 0x1D,
    SubscribeNamespace = 0x50,
    SubscribeTracks = 0x51,
    Setup = 0x2F00,
}

public static class MoqMessageTypes
{
    /// <summary>The seven messages that may open a request stream (§"Session initialization").</summary>
    public static bool StartsRequestStream(MoqMessageType type) => type is MoqMessageType.Subscribe or MoqMessageType.Publish
        or MoqMessageType.Fetch or MoqMessageType.TrackStatus or MoqMessageType.PublishNamespace
        or MoqMessageType.SubscribeNamespace or MoqMessageType.SubscribeTracks;

    public static bool IsKnown(ulong type) => Enum.IsDefined((MoqMessageType)type);
}
