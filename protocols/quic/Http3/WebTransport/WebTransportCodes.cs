namespace FastRelay.Protocols.Quic.Http3.WebTransport;

/// <summary>
/// HTTP/3 SETTINGS identifiers WebTransport uses. Browsers do not all speak the latest draft, so a server advertises
/// every generation it understands and the client picks: the standard ones (RFC 9220 extended CONNECT, RFC 9297
/// HTTP datagrams), draft-02's ENABLE_WEBTRANSPORT, draft-07..12's WEBTRANSPORT_MAX_SESSIONS and the editors' copy's
/// WT_ENABLED / WT_MAX_SESSIONS.
/// </summary>
public static class WebTransportSettingId
{
    /// <summary>SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220 / RFC 8441): extended CONNECT with :protocol.</summary>
    public const ulong EnableConnectProtocol = 0x08;
    /// <summary>SETTINGS_H3_DATAGRAM (RFC 9297 §2.1.1).</summary>
    public const ulong H3Datagram = 0x33;
    /// <summary>SETTINGS_ENABLE_WEBTRANSPORT of draft-02 (value 1).</summary>
    public const ulong EnableWebTransportDraft02 = 0x2b603742;
    /// <summary>SETTINGS_WEBTRANSPORT_MAX_SESSIONS of drafts 07..12: how many sessions the peer may open on the connection.</summary>
    public const ulong MaxSessionsDraft07 = 0xc671706a;
    /// <summary>SETTINGS_WT_ENABLED of the editors' copy (value 1).</summary>
    public const ulong WtEnabled = 0x2c7cf000;
    /// <summary>SETTINGS_WT_INITIAL_MAX_STREAMS_UNI / _BIDI / _DATA: any non-zero value (both ways) turns on per-session
    /// flow control. We never send them, so flow control stays off and capsules for it are ignored.</summary>
    public const ulong WtInitialMaxStreamsUni = 0x2b64;
    public const ulong WtInitialMaxStreamsBidi = 0x2b65;
    public const ulong WtInitialMaxData = 0x2b61;
}

/// <summary>Stream prefixes (draft §4.2, §4.3).</summary>
public static class WebTransportStreamType
{
    /// <summary>Unidirectional stream type, followed by the session id.</summary>
    public const ulong Unidirectional = 0x54;
    /// <summary>WT_STREAM signal opening a bidirectional stream, followed by the session id.</summary>
    public const ulong BidirectionalSignal = 0x41;
}

/// <summary>Capsule types (RFC 9297 §3.2 and the WebTransport draft).</summary>
public static class CapsuleType
{
    public const ulong Datagram = 0x00;
    /// <summary>WT_CLOSE_SESSION (a.k.a. CLOSE_WEBTRANSPORT_SESSION): 32-bit code + UTF-8 message of at most 1024 bytes.</summary>
    public const ulong CloseSession = 0x2843;
    /// <summary>WT_DRAIN_SESSION (a.k.a. DRAIN_WEBTRANSPORT_SESSION): empty.</summary>
    public const ulong DrainSession = 0x78ae;
}

/// <summary>HTTP/3 error codes WebTransport adds (draft §9.5), used as stream reset / connection close codes.</summary>
public static class WebTransportHttp3Error
{
    public const long BufferedStreamRejected = 0x3994bd84;
    public const long SessionGone = 0x170d7b68;
    public const long FlowControlError = 0x045d4487;
    public const long AlpnError = 0x0817b3dd;
    public const long RequirementsNotMet = 0x212c0d48;
}

/// <summary>
/// WebTransport application error codes (32-bit) live inside the HTTP/3 error space from 0x52e4a40fa8db to
/// 0x52e5ac983162, skipping HTTP/3's reserved codepoints 0x1f·N+0x21 (draft §4.4). Stream resets carry the mapped
/// value on the wire; the application only ever sees the 32-bit code.
/// </summary>
public static class WebTransportErrorCodes
{
    public const long First = 0x52e4a40fa8db;
    public const long Last = 0x52e5ac983162;

    public static long ToHttp3(uint code) => First + code + code / 0x1e;

    /// <summary>The application code inside an HTTP/3 code; false outside the range or on a reserved codepoint
    /// (then the reset has no application code).</summary>
    public static bool TryFromHttp3(long http3Code, out uint code)
    {
        code = 0;
        if (http3Code < First || http3Code > Last || (http3Code - 0x21) % 0x1f == 0)
            return false;
        long shifted = http3Code - First;
        code = (uint)(shifted - shifted / 0x1f);
        return true;
    }
}
