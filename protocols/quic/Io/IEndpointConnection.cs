using System.Net;

namespace FastRelay.Protocols.Quic.Io;

/// <summary>What the endpoint's receive loop needs from a connection it routes datagrams to.</summary>
internal interface IEndpointConnection
{
    /// <summary>
    /// Datagrams for this connection, in arrival order, with the address each came from (the peer may move: RFC 9000
    /// §9); buffers and addresses are the loop's and are reused after the call. The connection processes them all, then
    /// sends once (so a burst of packets gets one ACK, not one each). <paramref name="ecn"/>: each datagram's ECN codepoint.
    /// </summary>
    void OnDatagrams(ReadOnlySpan<Memory<byte>> datagrams, ReadOnlySpan<SocketAddress> sources, ReadOnlySpan<byte> ecn, long now);
    /// <summary>Absolute µs of the next timer (long.MaxValue: none). Read without the connection's lock: a stale value only costs an early wake-up.</summary>
    long NextTimeout { get; }
    /// <summary>The handshake completed (the endpoint stops counting the connection as half-open).</summary>
    bool IsHandshakeComplete { get; }
    void OnTimeout(long now);
}

/// <summary>Server side: what the endpoint calls for a client Initial that no connection owns yet.</summary>
internal interface IConnectionAcceptor
{
    /// <summary>Create the connection (it registers its ids with the endpoint); null refuses. The endpoint then feeds it the datagram.</summary>
    IEndpointConnection? Accept(in Connection.ServerHandshakeContext context, IPEndPoint remote, long now);
}
