using System.Net;

namespace FastRelay.Protocols.Quic.Io;

/// <summary>What the endpoint's receive loop needs from a connection it routes datagrams to.</summary>
internal interface IEndpointConnection
{
    /// <summary>
    /// A datagram for this connection; the buffer is the loop's and is reused after the call. Nothing is sent yet: the
    /// loop calls <see cref="Flush"/> once after the batch it read, so a burst of packets gets one ACK, not one each.
    /// </summary>
    void OnDatagram(Memory<byte> datagram, long now);
    /// <summary>Send whatever became sendable (ACKs, data the peer's ACKs released).</summary>
    void Flush(long now);
    /// <summary>Absolute µs of the next timer (long.MaxValue: none). Read without the connection's lock: a stale value only costs an early wake-up.</summary>
    long NextTimeout { get; }
    void OnTimeout(long now);
}

/// <summary>Server side: what the endpoint calls for a client Initial that no connection owns yet.</summary>
internal interface IConnectionAcceptor
{
    /// <summary>Create the connection (it registers its ids with the endpoint) and feed it the datagram; null refuses.</summary>
    IEndpointConnection? Accept(in Connection.ServerHandshakeContext context, IPEndPoint remote, Memory<byte> datagram, long now);
}
