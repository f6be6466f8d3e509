namespace FastRelay.Protocols.Quic.Wire;

/// <summary>Transport parameter ids (RFC 9000 §18.2, RFC 9368 §3, RFC 9221 §3, draft-ietf-quic-ack-frequency §3, and the
/// thesis' 0xBAAD).</summary>
public static class TransportParameterId
{
    public const ulong OriginalDestinationConnectionId = 0x00;
    public const ulong MaxIdleTimeout = 0x01;
    public const ulong StatelessResetToken = 0x02;
    public const ulong MaxUdpPayloadSize = 0x03;
    public const ulong InitialMaxData = 0x04;
    public const ulong InitialMaxStreamDataBidiLocal = 0x05;
    public const ulong InitialMaxStreamDataBidiRemote = 0x06;
    public const ulong InitialMaxStreamDataUni = 0x07;
    public const ulong InitialMaxStreamsBidi = 0x08;
    public const ulong InitialMaxStreamsUni = 0x09;
    public const ulong AckDelayExponent = 0x0a;
    public const ulong MaxAckDelay = 0x0b;
    public const ulong DisableActiveMigration = 0x0c;
    public const ulong PreferredAddress = 0x0d;
    public const ulong ActiveConnectionIdLimit = 0x0e;
    public const ulong InitialSourceConnectionId = 0x0f;
    public const ulong RetrySourceConnectionId = 0x10;
    /// <summary>RFC 9368 §3: the sender's chosen QUIC version and the versions it would use.</summary>
    public const ulong VersionInformation = 0x11;
    /// <summary>RFC 9221 §3.</summary>
    public const ulong MaxDatagramFrameSize = 0x20;
    /// <summary>
    /// disable_1rtt_encryption: both endpoints send it (empty value) to leave 1-RTT packets unprotected, which lets the
    /// kernel fast path read and rewrite them. Never offer it outside a controlled deployment.
    /// </summary>
    public const ulong Disable1RttEncryption = 0xBAAD;
    /// <summary>
    /// version_information under its draft codepoint (draft-ietf-quic-version-negotiation before RFC 9368), the one
    /// stacks of the v2-draft era (ngtcp2 0.12) read: same format as 0x11.
    /// </summary>
    public const ulong VersionInformationDraft = 0xff73db;
    /// <summary>
    /// min_ack_delay (draft-ietf-quic-ack-frequency-12 §3, provisional codepoint), in µs: the sender accepts ACK_FREQUENCY
    /// and IMMEDIATE_ACK frames and will not delay an ACK by less than this.
    /// </summary>
    public const ulong MinAckDelay = 0xff04de1b;

    /// <summary>Reserved ids 31 * N + 27 exercise the ignoring of unknown parameters (RFC 9000 §18.1).</summary>
    public static bool IsReserved(ulong id) => id >= 27 && (id - 27) % 31 == 0;
}
