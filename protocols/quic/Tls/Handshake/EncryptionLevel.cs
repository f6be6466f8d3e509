namespace FastRelay.Protocols.Quic.Tls.Handshake;

/// <summary>
/// The QUIC encryption level a handshake message travels at (RFC 9001 §4.1.4). 0-RTT is not offered, so it has no
/// level here: Initial carries ClientHello/ServerHello, Handshake the rest of the handshake, OneRtt post-handshake messages.
/// </summary>
public enum EncryptionLevel : byte
{
    Initial = 0,
    Handshake = 1,
    OneRtt = 2,
}
