namespace FastRelay.Protocols.Quic.Http3;

/// <summary>HTTP/3 frame types (RFC 9114 §7.2). Any other value is unknown or reserved and is skipped (§9).</summary>
public enum Http3FrameType : ulong
{
    Data = 0x00,
    Headers = 0x01,
    CancelPush = 0x03,
    Settings = 0x04,
    PushPromise = 0x05,
    GoAway = 0x07,
    MaxPushId = 0x0d,
}

/// <summary>Unidirectional stream types (RFC 9114 §6.2, RFC 9204 §4.2).</summary>
public enum Http3StreamType : ulong
{
    Control = 0x00,
    Push = 0x01,
    QpackEncoder = 0x02,
    QpackDecoder = 0x03,
}

/// <summary>Setting identifiers we know (RFC 9114 §7.2.4.1, RFC 9204 §5).</summary>
public static class Http3SettingId
{
    public const ulong QpackMaxTableCapacity = 0x01;
    public const ulong MaxFieldSectionSize = 0x06;
    public const ulong QpackBlockedStreams = 0x07;

    /// <summary>HTTP/2 setting ids that must not appear in HTTP/3 (§7.2.4.1): H3_SETTINGS_ERROR.</summary>
    public static bool IsReservedHttp2(ulong id) => id is 0x00 or 0x02 or 0x03 or 0x04 or 0x05;
}
