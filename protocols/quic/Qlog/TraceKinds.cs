namespace FastRelay.Protocols.Quic.Qlog;

/// <summary>The secrets qlog names (key_type of the security events): one per direction and encryption level.</summary>
public enum TracedKeyType : byte
{
    ServerInitialSecret,
    ClientInitialSecret,
    ServerHandshakeSecret,
    ClientHandshakeSecret,
    Server1RttSecret,
    Client1RttSecret,
}

/// <summary>Why keys changed: installed by the TLS handshake, or a 1-RTT key update started by us or by the peer.</summary>
public enum KeyUpdateTrigger : byte
{
    Tls,
    LocalUpdate,
    RemoteUpdate,
}
