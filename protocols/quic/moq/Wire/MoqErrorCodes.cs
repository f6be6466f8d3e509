namespace FastRelay.Protocols.Moq.Wire;

/// <summary>Session termination codes (draft-19 §"Termination"), sent as the QUIC/WebTransport application close code.</summary>
public enum MoqSessionError : ulong
{
    NoError = 0x0,
    InternalError = 0x1,
    Unauthorized = 0x2,
    ProtocolViolation = 0x3,
    InvalidRequestId = 0x4,
    DuplicateTrackAlias = 0x5,
    KeyValueFormattingError = 0x6,
    InvalidPath = 0x8,
    MalformedPath = 0x9,
    GoAwayTimeout = 0x10,
    ControlMessageTimeout = 0x11,
    DataStreamTimeout = 0x12,
    AuthTokenCacheOverflow = 0x13,
    DuplicateAuthTokenAlias = 0x14,
    VersionNegotiationFailed = 0x15,
    MalformedAuthToken = 0x16,
    UnknownAuthTokenAlias = 0x17,
    ExpiredAuthToken = 0x18,
    InvalidAuthority = 0x19,
    MalformedAuthority = 0x1A,
    TooManyRequestUpdates = 0x1B,
}

/// <summary>REQUEST_ERROR codes (draft-19 §"REQUEST_ERROR Codes").</summary>
public enum MoqRequestErrorCode : ulong
{
    InternalError = 0x0,
    Unauthorized = 0x1,
    Timeout = 0x2,
    NotSupported = 0x3,
    MalformedAuthToken = 0x4,
    ExpiredAuthToken = 0x5,
    GoingAway = 0x6,
    ExcessiveLoad = 0x9,
    DoesNotExist = 0x10,
    InvalidRange = 0x11,
    MalformedTrack = 0x12,
    Uninterested = 0x20,
    PrefixOverlap = 0x30,
    NamespaceTooLarge = 0x31,
    InvalidJoiningRequestId = 0x32,
    UnsupportedExtension = 0x33,
    Redirect = 0x34,
    ConflictingFilters = 0x35,
    InvalidFilter = 0x36,
}

/// <summary>PUBLISH_DONE status codes (draft-19 §"PUBLISH_DONE Codes").</summary>
public enum MoqPublishDoneCode : ulong
{
    InternalError = 0x0,
    Unauthorized = 0x1,
    TrackEnded = 0x2,
    SubscriptionEnded = 0x3,
    GoingAway = 0x4,
    TooFarBehind = 0x5,
    Expired = 0x6,
    UpdateFailed = 0x8,
    ExcessiveLoad = 0x9,
    MalformedTrack = 0x12,
}

/// <summary>RESET_STREAM / STOP_SENDING codes (draft-19 §"Stream Reset Error Codes").</summary>
public enum MoqStreamResetCode : ulong
{
    InternalError = 0x0,
    Cancelled = 0x1,
    DeliveryTimeout = 0x2,
    SessionClosed = 0x3,
    GoingAway = 0x4,
    TooFarBehind = 0x5,
    UnknownObjectStatus = 0x6,
    ExpiredAuthToken = 0x7,
    ExcessiveLoad = 0x9,
    MalformedTrack = 0x12,
}
