namespace FastRelay.Protocols.Quic.Tls;

/// <summary>KeyShareEntry (RFC 8446 §4.2.8): a group and its public value (a slice of the received message).</summary>
public readonly record struct KeyShareEntry(NamedGroup Group, ReadOnlyMemory<byte> KeyExchange);
