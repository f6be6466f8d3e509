namespace FastRelay.Protocols.Moq.Relay.Model;

/// <summary>REQUEST_ERROR codes (draft-19 §"REQUEST_ERROR Codes") the relay sends or reads.</summary>
public static class RequestErrorCode
{
    public const ulong InternalError = 0x0;
    public const ulong Unauthorized = 0x1;
    public const ulong Timeout = 0x2;
    public const ulong NotSupported = 0x3;
    public const ulong MalformedAuthToken = 0x4;
    public const ulong ExpiredAuthToken = 0x5;
    public const ulong GoingAway = 0x6;
    public const ulong ExcessiveLoad = 0x9;
    public const ulong DoesNotExist = 0x10;
    public const ulong InvalidRange = 0x11;
    public const ulong MalformedTrack = 0x12;
    public const ulong Uninterested = 0x20;
    public const ulong PrefixOverlap = 0x30;
    public const ulong NamespaceTooLarge = 0x31;
    public const ulong InvalidJoiningRequestId = 0x32;
}

/// <summary>PUBLISH_DONE status codes (draft-19 §"PUBLISH_DONE Codes").</summary>
public static class PublishDoneCode
{
    public const ulong InternalError = 0x0;
    public const ulong Unauthorized = 0x1;
    public const ulong TrackEnded = 0x2;
    public const ulong SubscriptionEnded = 0x3;
    public const ulong GoingAway = 0x4;
    public const ulong TooFarBehind = 0x5;
    public const ulong Expired = 0x6;
    public const ulong ExcessiveLoad = 0x9;
}

/// <summary>Data stream reset codes (draft-19 §"Stream Reset Error Codes").</summary>
public static class StreamResetCode
{
    public const ulong InternalError = 0x0;
    public const ulong Cancelled = 0x1;
    public const ulong DeliveryTimeout = 0x2;
    public const ulong SessionClosed = 0x3;
    public const ulong TooFarBehind = 0x5;
    public const ulong UnknownObjectStatus = 0x6;
}

/// <summary>Session termination codes (draft-19 §"Session Termination Error Codes") the relay closes with.</summary>
public static class SessionCloseCode
{
    public const ulong NoError = 0x0;
    public const ulong InternalError = 0x1;
    public const ulong Unauthorized = 0x2;
    public const ulong ProtocolViolation = 0x3;
}

/// <summary>Group Order (draft-19 §"GROUP ORDER Parameter").</summary>
public enum GroupOrder : byte
{
    /// <summary>Not stated by the subscriber: the publisher's preference applies.</summary>
    Default = 0,
    Ascending = 1,
    Descending = 2,
}
