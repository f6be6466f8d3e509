using FastRelay.Protocols.Quic.Crypto;

namespace FastRelay.Protocols.Quic.Tls.Handshake;

/// <summary>
/// What the handshake hands to the QUIC connection (RFC 9001 §4.1.1: "the TLS stack provides data to send and secrets").
/// Calls happen synchronously inside <see cref="TlsHandshake.Start"/> and <see cref="TlsHandshake.TryProcess"/>.
/// </summary>
public interface ITlsHandshakeSink
{
    /// <summary>Handshake bytes to send in CRYPTO frames at this level, in order (the connection appends them to that level's CRYPTO stream).</summary>
    void WriteCrypto(EncryptionLevel level, ReadOnlySpan<byte> data);

    /// <summary>
    /// Read and write secrets of a level are ready. Handshake: when ServerHello is sent/received. OneRtt: server when it
    /// sends its Finished, client when it has verified the server Finished (before it writes its own Finished).
    /// </summary>
    void InstallSecrets(EncryptionLevel level, CipherSuite suite, ReadOnlySpan<byte> readSecret, ReadOnlySpan<byte> writeSecret);

    /// <summary>Client: after writing its Finished. Server: after verifying the client Finished.</summary>
    void HandshakeCompleted();

    /// <summary>
    /// 0-RTT keys (RFC 9001 §4.6.1) from client_early_traffic_secret. Client: after the ClientHello that offers early data
    /// (write direction). Server: when it accepts early data (read direction).
    /// </summary>
    void InstallEarlySecret(CipherSuite suite, ReadOnlySpan<byte> secret) { }

    /// <summary>Client that offered early data: the server accepted it (EncryptedExtensions with early_data) or not.</summary>
    void EarlyDataResolved(bool accepted) { }

    /// <summary>
    /// Server: the ClientHello's transport parameters, before anything of the ServerHello is written (after a
    /// HelloRetryRequest, those of the second ClientHello). QUIC settles its version here (RFC 9368): it may still change
    /// the local transport parameters and the Initial keys. An error ends the handshake with it.
    /// </summary>
    QuicError OnClientTransportParameters(Wire.TransportParameters client) => default;

    /// <summary>
    /// The QUIC version of the connection (the negotiated one once known). Session tickets are bound to it: a server
    /// resumes only a ticket issued on a connection of the same version, a client keeps it with the ticket (RFC 9369 §5).
    /// </summary>
    uint ConnectionVersion => Wire.QuicVersion.V1;
}
