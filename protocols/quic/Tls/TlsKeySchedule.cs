using System.Security.Cryptography;
using FastRelay.Protocols.Quic.Crypto;

namespace FastRelay.Protocols.Quic.Tls;

/// <summary>
/// The TLS 1.3 key schedule (RFC 8446 §7.1) for one connection and cipher suite:
/// <code>
/// Early Secret     = HKDF-Extract(0, PSK or 0^Hash.length)
/// Handshake Secret = HKDF-Extract(Derive-Secret(Early, "derived", ""), (EC)DHE)
/// Master Secret    = HKDF-Extract(Derive-Secret(Handshake, "derived", ""), 0^Hash.length)
/// Derive-Secret(S, Label, Messages) = HKDF-Expand-Label(S, Label, Transcript-Hash(Messages), Hash.length)
/// </code>
/// The caller keeps the transcript (an <see cref="IncrementalHash"/>) and passes transcript hashes in; this class only
/// derives. Stages advance in order: constructor (early) → <see cref="DeriveHandshakeSecret"/> → <see cref="DeriveMasterSecret"/>.
/// Traffic secrets go to <c>PacketKeys</c> (RFC 9001 §5.1: "quic key/iv/hp"), not to TLS records.
/// </summary>
public sealed class TlsKeySchedule
{
    public CipherSuite Suite { get; }
    public HashAlgorithmName Hash { get; }
    public int HashLength { get; }

    public byte[] EarlySecret { get; }
    public byte[]? HandshakeSecret { get; private set; }
    public byte[]? MasterSecret { get; private set; }

    /// <param name="psk">The pre-shared key (resumption), or empty for a full handshake (0^Hash.length is used).</param>
    public TlsKeySchedule(CipherSuite suite, ReadOnlySpan<byte> psk = default)
    {
        Suite = suite;
        Hash = suite.Hash();
        HashLength = suite.HashLength();
        Span<byte> zeros = stackalloc byte[HashLength];
        zeros.Clear();
        EarlySecret = Extract(Hash, zeros, psk.IsEmpty ? zeros : psk);
    }

    public static byte[] Extract(HashAlgorithmName hash, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> ikm)
    {
        var prk = new byte[hash == HashAlgorithmName.SHA384 ? 48 : 32];
        HKDF.Extract(hash, ikm, salt, prk);
        return prk;
    }

    /// <summary>Transcript-Hash of no messages (the context of "derived", "finished" key derivations use "" as context).</summary>
    public static byte[] EmptyHash(HashAlgorithmName hash) =>
        hash == HashAlgorithmName.SHA384 ? SHA384.HashData(ReadOnlySpan<byte>.Empty) : SHA256.HashData(ReadOnlySpan<byte>.Empty);

    /// <summary>Derive-Secret with an already computed transcript hash.</summary>
    public byte[] DeriveSecret(ReadOnlySpan<byte> secret, string label, ReadOnlySpan<byte> transcriptHash)
    {
        if (transcriptHash.Length != HashLength) throw new ArgumentException("transcript hash length does not match the suite's hash");
        return HkdfLabel.ExpandLabel(Hash, secret, label, transcriptHash, HashLength);
    }

    private byte[] DeriveSalt(ReadOnlySpan<byte> secret) => DeriveSecret(secret, "derived", EmptyHash(Hash));

    /// <summary>Derive-Secret(Early Secret, "derived", "") — the salt of the Handshake Secret extraction.</summary>
    public byte[] DerivedFromEarly() => DeriveSalt(EarlySecret);

    // --- Early stage (PSK) -------------------------------------------------------------------------------------------

    /// <summary>binder_key: "ext binder" for external PSKs, "res binder" for resumption PSKs (transcript: empty).</summary>
    public byte[] BinderKey(bool resumption) => DeriveSecret(EarlySecret, resumption ? "res binder" : "ext binder", EmptyHash(Hash));

    /// <summary>client_early_traffic_secret (0-RTT), transcript: ClientHello.</summary>
    public byte[] ClientEarlyTrafficSecret(ReadOnlySpan<byte> clientHelloHash) => DeriveSecret(EarlySecret, "c e traffic", clientHelloHash);

    public byte[] EarlyExporterMasterSecret(ReadOnlySpan<byte> clientHelloHash) => DeriveSecret(EarlySecret, "e exp master", clientHelloHash);

    // --- Handshake stage ---------------------------------------------------------------------------------------------

    /// <summary>Handshake Secret = HKDF-Extract(Derive-Secret(Early, "derived", ""), (EC)DHE shared secret).</summary>
    public byte[] DeriveHandshakeSecret(ReadOnlySpan<byte> sharedSecret)
    {
        if (HandshakeSecret is not null) throw new InvalidOperationException("handshake secret already derived");
        HandshakeSecret = Extract(Hash, DerivedFromEarly(), sharedSecret);
        return HandshakeSecret;
    }

    /// <summary>client_handshake_traffic_secret, transcript: ClientHello..ServerHello.</summary>
    public byte[] ClientHandshakeTrafficSecret(ReadOnlySpan<byte> helloHash) => DeriveSecret(RequireHandshake(), "c hs traffic", helloHash);

    /// <summary>server_handshake_traffic_secret, transcript: ClientHello..ServerHello.</summary>
    public byte[] ServerHandshakeTrafficSecret(ReadOnlySpan<byte> helloHash) => DeriveSecret(RequireHandshake(), "s hs traffic", helloHash);

    // --- Master stage ------------------------------------------------------------------------------------------------

    /// <summary>Master Secret = HKDF-Extract(Derive-Secret(Handshake, "derived", ""), 0^Hash.length).</summary>
    public byte[] DeriveMasterSecret()
    {
        if (MasterSecret is not null) throw new InvalidOperationException("master secret already derived");
        Span<byte> zeros = stackalloc byte[HashLength];
        zeros.Clear();
        MasterSecret = Extract(Hash, DeriveSalt(RequireHandshake()), zeros);
        return MasterSecret;
    }

    /// <summary>client_application_traffic_secret_0, transcript: ClientHello..server Finished.</summary>
    public byte[] ClientApplicationTrafficSecret(ReadOnlySpan<byte> serverFinishedHash) => DeriveSecret(RequireMaster(), "c ap traffic", serverFinishedHash);

    /// <summary>server_application_traffic_secret_0, transcript: ClientHello..server Finished.</summary>
    public byte[] ServerApplicationTrafficSecret(ReadOnlySpan<byte> serverFinishedHash) => DeriveSecret(RequireMaster(), "s ap traffic", serverFinishedHash);

    /// <summary>exporter_master_secret, transcript: ClientHello..server Finished.</summary>
    public byte[] ExporterMasterSecret(ReadOnlySpan<byte> serverFinishedHash) => DeriveSecret(RequireMaster(), "exp master", serverFinishedHash);

    /// <summary>resumption_master_secret, transcript: ClientHello..client Finished.</summary>
    public byte[] ResumptionMasterSecret(ReadOnlySpan<byte> clientFinishedHash) => DeriveSecret(RequireMaster(), "res master", clientFinishedHash);

    /// <summary>The PSK for a NewSessionTicket (RFC 8446 §4.6.1): HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce, Hash.length).</summary>
    public byte[] ResumptionPsk(ReadOnlySpan<byte> resumptionMasterSecret, ReadOnlySpan<byte> ticketNonce) =>
        HkdfLabel.ExpandLabel(Hash, resumptionMasterSecret, "resumption", ticketNonce, HashLength);

    // --- Finished and traffic update ---------------------------------------------------------------------------------

    /// <summary>finished_key = HKDF-Expand-Label(BaseKey, "finished", "", Hash.length) (RFC 8446 §4.4.4).</summary>
    public byte[] FinishedKey(ReadOnlySpan<byte> baseKey) => HkdfLabel.ExpandLabel(Hash, baseKey, "finished", ReadOnlySpan<byte>.Empty, HashLength);

    /// <summary>verify_data = HMAC(finished_key, Transcript-Hash(Handshake Context, Certificate*, CertificateVerify*)).</summary>
    public byte[] ComputeVerifyData(ReadOnlySpan<byte> baseKey, ReadOnlySpan<byte> transcriptHash)
    {
        var key = FinishedKey(baseKey);
        try
        {
            return Hash == HashAlgorithmName.SHA384 ? HMACSHA384.HashData(key, transcriptHash) : HMACSHA256.HashData(key, transcriptHash);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>Checks a received Finished in constant time (mismatch → decrypt_error, RFC 8446 §4.4.4).</summary>
    public bool VerifyFinished(ReadOnlySpan<byte> baseKey, ReadOnlySpan<byte> transcriptHash, ReadOnlySpan<byte> verifyData)
    {
        var expected = ComputeVerifyData(baseKey, transcriptHash);
        return verifyData.Length == expected.Length && CryptographicOperations.FixedTimeEquals(expected, verifyData);
    }

    /// <summary>
    /// application_traffic_secret_N+1 = HKDF-Expand-Label(application_traffic_secret_N, "traffic upd", "", Hash.length)
    /// (RFC 8446 §7.2). QUIC key updates use "quic ku" instead (RFC 9001 §6, <c>QuicKeyDerivation</c>); this is the TLS
    /// KeyUpdate derivation, kept for completeness and for non-QUIC use.
    /// </summary>
    public byte[] NextApplicationTrafficSecret(ReadOnlySpan<byte> current) =>
        HkdfLabel.ExpandLabel(Hash, current, "traffic upd", ReadOnlySpan<byte>.Empty, HashLength);

    private byte[] RequireHandshake() => HandshakeSecret ?? throw new InvalidOperationException("handshake secret not derived yet");
    private byte[] RequireMaster() => MasterSecret ?? throw new InvalidOperationException("master secret not derived yet");
}
