using System.Net;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Tests.Quic.Api;

namespace FastRelay.Tests.Quic.Robustness;

/// <summary>Listeners on loopback and what the robustness tests read from the server's datagrams.</summary>
internal static class ServerEndpoints
{
    public static ValueTask<QuicListener> ListenAsync(Action<QuicServerConnectionOptions>? configure = null, int backlog = 512)
    {
        var options = new QuicServerConnectionOptions { ServerCertificate = LoopbackPair.Certificate.Value, ApplicationProtocols = ["test"] };
        configure?.Invoke(options);
        return QuicListener.ListenAsync(new QuicListenerOptions
        {
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            ApplicationProtocols = ["test"],
            ConnectionOptions = options,
            ListenBacklog = backlog,
        });
    }

    /// <summary>
    /// The packet number of the server Initial at the start of <paramref name="datagram"/> (decrypted with the Initial
    /// keys of the client's first destination id), or null when the datagram does not start with one.
    /// </summary>
    public static ulong? ServerInitialPacketNumber(byte[] datagram, in ConnectionId clientDestination)
    {
        var copy = datagram.ToArray();
        if (!PacketHeaderParser.TryParse(copy, 8, out var header, out _) || header.Type != QuicPacketType.Initial) return null;
        var (clientKeys, serverKeys) = PacketKeys.CreateInitial(clientDestination.Span);
        using (clientKeys)
        using (serverKeys)
        {
            return PacketProtection.TryUnprotect(copy.AsSpan(0, header.PacketLength), header.PacketNumberOffset, null, serverKeys,
                out ulong number, out _, out _, out _) ? number : null;
        }
    }

    /// <summary>The Source Connection ID of a long-header datagram (the id the server chose for itself).</summary>
    public static ConnectionId SourceId(byte[] datagram)
    {
        if (!PacketHeaderParser.TryParse(datagram, 8, out var header, out _) || !header.IsLongHeader) throw new InvalidOperationException("not a long header");
        ConnectionId.TryCreate(header.SourceConnectionId.Span, out var id);
        return id;
    }

    /// <summary>Accepts connections and echoes every bidirectional stream until the listener goes away.</summary>
    public static async Task EchoAsync(QuicListener listener, CancellationToken cancel)
    {
        while (!cancel.IsCancellationRequested)
        {
            QuicConnection connection;
            try { connection = await listener.AcceptConnectionAsync(cancel); }
            catch (Exception) { return; }
            _ = Task.Run(async () =>
            {
                try
                {
                    while (true)
                    {
                        var stream = await connection.AcceptInboundStreamAsync(cancel);
                        _ = Task.Run(async () =>
                        {
                            var data = new MemoryStream();
                            await stream.CopyToAsync(data, cancel);
                            await stream.WriteAsync(data.ToArray(), completeWrites: true, cancel);
                        }, cancel);
                    }
                }
                catch (Exception) { }
            }, cancel);
        }
    }

    /// <summary>Connects, sends a few bytes on a stream and reads them back; returns what came back.</summary>
    public static async Task<byte[]> ConnectAndEchoAsync(IPEndPoint server, byte[] payload, TimeSpan handshakeTimeout, CancellationToken cancel)
    {
        await using var client = await QuicConnection.ConnectAsync(new QuicClientConnectionOptions
        {
            RemoteEndPoint = server,
            ApplicationProtocols = ["test"],
            SkipCertificateValidation = true,
            HandshakeTimeout = handshakeTimeout,
        }, cancel);
        var stream = await client.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, cancel);
        await stream.WriteAsync(payload, completeWrites: true, cancel);
        var back = new MemoryStream();
        await stream.CopyToAsync(back, cancel);
        return back.ToArray();
    }
}
