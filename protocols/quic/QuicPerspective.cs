namespace FastRelay.Protocols.Quic;

/// <summary>Which end of a connection an endpoint (or a message's sender) is.</summary>
public enum QuicPerspective : byte
{
    Client = 0,
    Server = 1,
}
