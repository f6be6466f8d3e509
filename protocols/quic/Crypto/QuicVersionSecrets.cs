using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Crypto;

/// <summary>
/// The cryptographic constants that differ between QUIC versions (RFC 9001 §5 for v1, RFC 9369 §3.3 for v2): the salt of
/// the Initial secrets, the HKDF labels of packet protection and key update, and the Retry Integrity Tag key and nonce.
/// One instance per version, made once; everything else about packet protection is shared.
/// </summary>
public sealed class QuicVersionSecrets
{
    public uint Version { get; }
    public byte[] InitialSalt { get; }
    public byte[] KeyLabel { get; }
    public byte[] IvLabel { get; }
    public byte[] HpLabel { get; }
    public byte[] KeyUpdateLabel { get; }
    public byte[] RetryKey { get; }
    public byte[] RetryNonce { get; }

    private QuicVersionSecrets(uint version, string salt, string labelPrefix, string retryKey, string retryNonce)
    {
        Version = version;
        InitialSalt = Convert.FromHexString(salt);
        KeyLabel = System.Text.Encoding.ASCII.GetBytes(labelPrefix + " key");
        IvLabel = System.Text.Encoding.ASCII.GetBytes(labelPrefix + " iv");
        HpLabel = System.Text.Encoding.ASCII.GetBytes(labelPrefix + " hp");
        KeyUpdateLabel = System.Text.Encoding.ASCII.GetBytes(labelPrefix + " ku");
        RetryKey = Convert.FromHexString(retryKey);
        RetryNonce = Convert.FromHexString(retryNonce);
    }

    /// <summary>RFC 9001 §5.2 and §5.8.</summary>
    public static QuicVersionSecrets V1 { get; } = new(QuicVersion.V1, "38762cf7f55934b34d179ae6a4c80cadccbb7f0a", "quic",
        "be0c690b9f66575a1d766b54e368c84e", "461599d35d632bf2239825bb");

    /// <summary>RFC 9369 §3.3.</summary>
    public static QuicVersionSecrets V2 { get; } = new(QuicVersion.V2, "0dede3def700a6db819381be6e269dcbf9bd2ed9", "quicv2",
        "8fb4b01b56ac48e260fbcbcead7ccc92", "d86969bc2d7c6d9990efb04a");

    /// <summary>draft-ietf-quic-v2-07 and before (version 0x709a50c4): v2's labels with the draft's salt and Retry keys.</summary>
    public static QuicVersionSecrets V2Draft { get; } = new(QuicVersion.V2Draft, "a707c203a59b47184a1d62ca570406ea7ae3e5d3", "quicv2",
        "ba858dc7b43de5dbf87617ff4ab253db", "141b99c239b03e785d6a2e9f");

    /// <summary>The constants of a supported version; anything else is a programming error (headers are checked first).</summary>
    public static QuicVersionSecrets For(uint version) => version switch
    {
        QuicVersion.V1 => V1,
        QuicVersion.V2 => V2,
        QuicVersion.V2Draft => V2Draft,
        _ => throw new ArgumentOutOfRangeException(nameof(version), $"QUIC version 0x{version:x8} is not supported"),
    };
}
