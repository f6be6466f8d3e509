using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Streams;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Tests.Quic.Streams;

/// <summary>Feeds frames decoded by the Wire codecs into a <see cref="StreamTable"/>; records which frame types arrived.</summary>
internal sealed class TableFrameHandler(StreamTable table) : IQuicFrameHandler
{
    public readonly HashSet<ulong> SeenTypes = new();
    public bool Record { get; set; } = true;
    /// <summary>Checked on every STREAM frame before it reaches the table: the window the receiver advertised.</summary>
    public Action<StreamFrame>? OnStreamObserved { get; set; }

    private QuicError Seen(ulong type, bool ok, QuicError error)
    {
        if (Record) SeenTypes.Add(type);
        return ok ? default : error;
    }

    public QuicError OnPadding(in PaddingFrame frame) => default;
    public QuicError OnPing(in PingFrame frame) => default;
    public QuicError OnAck(in AckFrame frame) => default;
    public QuicError OnResetStream(in ResetStreamFrame frame) => Seen(FrameType.ResetStream, table.TryOnResetStream(frame, out var e), e);
    public QuicError OnStopSending(in StopSendingFrame frame) => Seen(FrameType.StopSending, table.TryOnStopSending(frame, out var e), e);
    public QuicError OnCrypto(in CryptoFrame frame) => default;
    public QuicError OnNewToken(in NewTokenFrame frame) => default;
    public QuicError OnStream(in StreamFrame frame)
    {
        OnStreamObserved?.Invoke(frame);
        return Seen(FrameType.Stream, table.TryOnStream(frame, out var e), e);
    }
    public QuicError OnMaxData(in MaxDataFrame frame)
    {
        table.OnMaxData(frame);
        return Seen(FrameType.MaxData, true, default);
    }
    public QuicError OnMaxStreamData(in MaxStreamDataFrame frame) => Seen(FrameType.MaxStreamData, table.TryOnMaxStreamData(frame, out var e), e);
    public QuicError OnMaxStreams(in MaxStreamsFrame frame) => Seen(frame.Type, table.TryOnMaxStreams(frame, out var e), e);
    public QuicError OnDataBlocked(in DataBlockedFrame frame) => Seen(FrameType.DataBlocked, true, default);
    public QuicError OnStreamDataBlocked(in StreamDataBlockedFrame frame) => Seen(FrameType.StreamDataBlocked, table.TryOnStreamDataBlocked(frame, out var e), e);
    public QuicError OnStreamsBlocked(in StreamsBlockedFrame frame) => Seen(frame.Type, true, default);
    public QuicError OnNewConnectionId(in NewConnectionIdFrame frame) => default;
    public QuicError OnRetireConnectionId(in RetireConnectionIdFrame frame) => default;
    public QuicError OnPathChallenge(in PathChallengeFrame frame) => default;
    public QuicError OnPathResponse(in PathResponseFrame frame) => default;
    public QuicError OnConnectionClose(in ConnectionCloseFrame frame) => default;
    public QuicError OnHandshakeDone(in HandshakeDoneFrame frame) => default;
    public QuicError OnDatagram(in DatagramFrame frame) => default;
    public QuicError OnAckFrequency(in AckFrequencyFrame frame) => default;
    public QuicError OnImmediateAck(in ImmediateAckFrame frame) => default;
}

/// <summary>
/// A client and a server table joined by an in-memory lossy channel (seeded): each step both sides build a packet
/// with WriteFrames; a packet is dropped (its frames reported lost) or kept in flight and delivered later in random
/// order (decoded with FrameDecoder, fed to the other table, then acknowledged to the sender).
/// </summary>
internal sealed class TablePair
{
    public readonly StreamTable Client, Server;
    public readonly TableFrameHandler ToClient, ToServer;
    private readonly Random _rng;
    private readonly double _loss;
    private readonly int _packetSize;
    private readonly List<(byte[] Payload, List<SentFrame> Frames, bool ToServer)> _inFlight = new();
    public long Now;
    public int PacketsSent, PacketsLost;

    public TablePair(StreamTableSettings client, StreamTableSettings server, int seed, double loss, int packetSize = 1200)
    {
        client.IsClient = true;
        server.IsClient = false;
        Client = new StreamTable(client);
        Server = new StreamTable(server);
        var clientParams = new TransportParameters();
        client.ApplyTo(clientParams);
        var serverParams = new TransportParameters();
        server.ApplyTo(serverParams);
        Client.SetPeerLimits(serverParams);
        Server.SetPeerLimits(clientParams);
        ToClient = new TableFrameHandler(Client);
        ToServer = new TableFrameHandler(Server);
        _rng = new Random(seed);
        _loss = loss;
        _packetSize = packetSize;
    }

    /// <summary>One round: each side sends up to <paramref name="packetsPerSide"/> packets, then some in-flight packets arrive.</summary>
    public void Step(int packetsPerSide = 4, long rtt = 10_000, long tick = 1_000)
    {
        Now += tick;
        foreach (var table in new[] { Client, Server })
        {
            table.Now = Now;
            table.SmoothedRtt = rtt;
        }
        for (int i = 0; i < packetsPerSide; i++)
        {
            Send(Client, toServer: true);
            Send(Server, toServer: false);
        }
        for (int i = _inFlight.Count - 1; i >= 0; i--)
        {
            if (_rng.Next(4) == 0) continue;   // stays in flight: reordering
            int pick = _rng.Next(i + 1);
            var packet = _inFlight[pick];
            _inFlight.RemoveAt(pick);
            Deliver(packet.Payload, packet.Frames, packet.ToServer);
        }
    }

    private void Send(StreamTable from, bool toServer)
    {
        if (!from.HasPendingFrames) return;
        var buffer = new byte[_packetSize];
        var frames = new List<SentFrame>();
        int n = from.WriteFrames(buffer, frames);
        if (n == 0) return;
        PacketsSent++;
        if (_rng.NextDouble() < _loss)
        {
            PacketsLost++;
            foreach (var f in frames) from.OnFrameLost(f);
            return;
        }
        _inFlight.Add((buffer[..n], frames, toServer));
    }

    private void Deliver(byte[] payload, List<SentFrame> frames, bool toServer)
    {
        var handler = toServer ? ToServer : ToClient;
        if (!FrameDecoder.TryDecode(payload, QuicPacketType.OneRtt, ref handler, out _, out var error))
            throw new InvalidOperationException($"receiver rejected a packet: {error}");
        var sender = toServer ? Client : Server;
        foreach (var f in frames) sender.OnFrameAcked(f);
    }
}
