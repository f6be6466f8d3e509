namespace FastRelay.Protocols.Quic.Http3.WebTransport;

/// <summary>The SETTINGS each side of a WebTransport-capable HTTP/3 connection sends, and the check of the peer's.</summary>
public static class WebTransportSettings
{
    /// <summary>max_datagram_frame_size both our ends advertise: WebTransport needs QUIC DATAGRAM (draft §3.1).</summary>
    public const int MaxDatagramFrameSize = 65535;

    /// <summary>
    /// Server: extended CONNECT, HTTP datagrams, and WebTransport in every generation we serve identically — the
    /// draft-07 session limit (what Chromium keys on), and the editors' copy's WT_ENABLED. No flow-control settings:
    /// per-session flow control stays off, so its capsules are ignored.
    /// </summary>
    public static Http3Settings ForServer(int maxSessions) => new()
    {
        QpackMaxTableCapacity = 0,
        QpackBlockedStreams = 0,
        MaxFieldSectionSize = Http3Settings.Ours.MaxFieldSectionSize,
        Other =
        [
            new(WebTransportSettingId.EnableConnectProtocol, 1),
            new(WebTransportSettingId.H3Datagram, 1),
            new(WebTransportSettingId.MaxSessionsDraft07, (ulong)maxSessions),
            new(WebTransportSettingId.WtEnabled, 1),
            // Chromium 156 offers only draft-02 (its client SETTINGS carry ENABLE_WEBTRANSPORT and no later identifier):
            // without this one it fails the session before sending CONNECT.
            new(WebTransportSettingId.EnableWebTransportDraft02, 1),
        ],
    };

    /// <summary>Client: HTTP datagrams and the WebTransport version identifiers (drafts send them from clients too).</summary>
    public static Http3Settings ForClient() => new()
    {
        QpackMaxTableCapacity = 0,
        QpackBlockedStreams = 0,
        MaxFieldSectionSize = Http3Settings.Ours.MaxFieldSectionSize,
        Other =
        [
            new(WebTransportSettingId.H3Datagram, 1),
            new(WebTransportSettingId.MaxSessionsDraft07, 1),
            new(WebTransportSettingId.WtEnabled, 1),
        ],
    };

    public static ulong? Get(Http3Settings settings, ulong id)
    {
        foreach (var (key, value) in settings.Other)
            if (key == id)
                return value;
        return null;
    }

    /// <summary>Null when a server's SETTINGS allow WebTransport sessions, otherwise what is missing.</summary>
    public static string? MissingOnServer(Http3Settings settings)
    {
        if (Get(settings, WebTransportSettingId.EnableConnectProtocol) != 1) return "SETTINGS_ENABLE_CONNECT_PROTOCOL is not 1";
        if (Get(settings, WebTransportSettingId.H3Datagram) != 1) return "SETTINGS_H3_DATAGRAM is not 1";
        bool webTransport = Get(settings, WebTransportSettingId.MaxSessionsDraft07) is > 0
            || Get(settings, WebTransportSettingId.WtEnabled) == 1
            || Get(settings, WebTransportSettingId.EnableWebTransportDraft02) == 1;
        return webTransport ? null : "no WebTransport setting (WT_MAX_SESSIONS, WT_ENABLED or ENABLE_WEBTRANSPORT)";
    }

    /// <summary>Null when a client's SETTINGS allow it to open sessions (it must take HTTP datagrams).</summary>
    public static string? MissingOnClient(Http3Settings settings) =>
        Get(settings, WebTransportSettingId.H3Datagram) == 1 ? null : "SETTINGS_H3_DATAGRAM is not 1";
}
