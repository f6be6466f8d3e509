using Xunit;
using System.Security.Cryptography.X509Certificates;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Tls.Certificates;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Tests.Quic.Connection;

/// <summary>
/// A client core and a server core joined by an in-memory network with a virtual clock: what one writes the other
/// receives after <see cref="OneWayDelay"/>, unless the seeded loss function drops it. No sockets, fully repeatable.
/// </summary>
internal sealed class CorePair : IDisposable
{
    private sealed class Routes : IConnectionIdListener
    {
        public readonly HashSet<ConnectionId> Ids = [];
        public void OnIssued(in ConnectionId id) => Ids.Add(id);
        public void OnRetired(in ConnectionId id) => Ids.Remove(id);
    }

    private static readonly Lazy<X509Certificate2> SharedCertificate = new(() => SelfSignedCertificate.Create());

    private readonly List<(long At, bool ToServer, byte[] Bytes)> _inFlight = [];
    private readonly byte[] _buffer = new byte[65536];
    private readonly Routes _clientRoutes = new(), _serverRoutes = new();

    public long Now { get; private set; } = 1_000_000;
    public long OneWayDelay { get; init; } = 10_000;
    /// <summary>Decides per datagram whether it is lost: (toServer, index of the datagram in that direction).</summary>
    public Func<bool, int, bool> Lose { get; init; } = (_, _) => false;
    /// <summary>A simulated path MTU (largest UDP payload): bigger datagrams are lost, like DF packets on a smaller link.</summary>
    public int PathMtu { get; set; } = int.MaxValue;
    /// <summary>Rewrites a datagram on its way (toServer, bytes) — the fuzz tests corrupt packets with it.</summary>
    public Action<bool, byte[]>? Mutate { get; set; }
    /// <summary>
    /// Hand the receiver one datagram, then let both ends send, before the next: a receiver that reads packets one by
    /// one (paced traffic) rather than a burst at once (which a real endpoint answers with one ACK per read batch).
    /// </summary>
    public bool DeliverOneAtATime { get; init; }
    public QuicConnectionCore Client { get; }
    public QuicConnectionCore? Server { get; private set; }
    public IReadOnlyCollection<ConnectionId> ClientIds => _clientRoutes.Ids;
    public IReadOnlyCollection<ConnectionId> ServerIds => _serverRoutes.Ids;
    public StatelessResetKey ServerResetKey { get; private set; } = null!;
    public int DatagramsToServer { get; private set; }
    public int DatagramsToClient { get; private set; }
    public List<byte[]> ServerBound { get; } = [];
    public List<byte[]> ClientBound { get; } = [];
    private readonly Func<ConnectionSettings> _serverSettings;

    public CorePair(Action<ConnectionSettingsBuilder>? client = null, Action<ConnectionSettingsBuilder>? server = null)
    {
        var clientBuilder = new ConnectionSettingsBuilder(QuicPerspective.Client);
        client?.Invoke(clientBuilder);
        var serverBuilder = new ConnectionSettingsBuilder(QuicPerspective.Server) { Certificate = SharedCertificate.Value };
        server?.Invoke(serverBuilder);
        _serverSettings = serverBuilder.Build;
        Client = QuicConnectionCore.CreateClient(clientBuilder.Build(), _clientRoutes, Now);
    }

    /// <summary>Runs both ends until <paramref name="done"/> holds or virtual time passes <paramref name="limit"/> µs.</summary>
    public bool RunUntil(Func<bool> done, long limit = 30_000_000)
    {
        long end = Now + limit;
        while (Now < end)
        {
            if (done()) return true;
            bool sent = Flush(Client, toServer: true);
            if (Server is not null) sent |= Flush(Server, toServer: false);
            if (sent) continue;
            long next = _inFlight.Count > 0 ? _inFlight.Min(d => d.At) : long.MaxValue;
            next = Math.Min(next, Client.NextTimeout);
            if (Server is not null) next = Math.Min(next, Server.NextTimeout);
            if (next == long.MaxValue || next > end) return done();
            Now = Math.Max(Now, next);
            Deliver();
            if (Client.NextTimeout <= Now) Client.OnTimeout(Now);
            if (Server is not null && Server.NextTimeout <= Now) Server.OnTimeout(Now);
        }
        return done();
    }

    private bool Flush(QuicConnectionCore core, bool toServer)
    {
        bool any = false;
        for (int i = 0; i < 1000; i++)
        {
            int n = core.WriteDatagram(_buffer, Now);
            if (n == 0) break;
            any = true;
            var bytes = _buffer.AsSpan(0, n).ToArray();
            int index = toServer ? DatagramsToServer++ : DatagramsToClient++;
            (toServer ? ServerBound : ClientBound).Add(bytes);
            Mutate?.Invoke(toServer, bytes);
            if (!Lose(toServer, index) && bytes.Length <= PathMtu) _inFlight.Add((Now + OneWayDelay, toServer, bytes));
        }
        return any;
    }

    private void Deliver()
    {
        var due = _inFlight.Where(d => d.At <= Now).ToList();
        if (DeliverOneAtATime && due.Count > 1) due.RemoveRange(1, due.Count - 1);
        foreach (var d in due) _inFlight.Remove(d);
        foreach (var (_, toServer, bytes) in due)
        {
            if (toServer)
            {
                if (Server is null) StartServer(bytes);
                Server!.OnDatagram(bytes, Now);
            }
            else Client.OnDatagram(bytes, Now);
        }
    }

    private void StartServer(byte[] firstDatagram)
    {
        Assert.True(PacketHeaderParser.TryParse(firstDatagram, 8, out var header, out _));
        ConnectionId.TryCreate(header.DestinationConnectionId.Span, out var dcid);
        ConnectionId.TryCreate(header.SourceConnectionId.Span, out var scid);
        var context = new ServerHandshakeContext(dcid, dcid, scid, ConnectionId.Random(8), null, AddressValidated: false, header.Version);
        var settings = _serverSettings();
        ServerResetKey = settings.ResetKey;
        Server = QuicConnectionCore.CreateServer(settings, context, _serverRoutes, Now);
    }

    public bool Handshake() => RunUntil(() => Client.IsHandshakeComplete && Server?.IsHandshakeComplete == true);

    /// <summary>
    /// Sends <paramref name="payload"/> from the client on a new bidirectional stream with FIN and runs until the server
    /// has read all of it; returns the stream id and what the server read.
    /// </summary>
    public (ulong StreamId, byte[] Received) Transfer(byte[] payload, long limit = 60_000_000)
    {
        Assert.True(Client.Streams.TryOpenStream(true, out ulong id));
        int offset = 0;
        var received = new List<byte>();
        bool fin = false;
        bool done = RunUntil(() =>
        {
            if (offset < payload.Length)
            {
                offset += Client.Streams.Write(id, payload.AsSpan(offset), false);
                if (offset == payload.Length) Client.Streams.Write(id, [], true);
            }
            Drain(Server!, id, received, out bool f);
            return fin |= f;
        }, limit);
        Assert.True(done, $"received {received.Count} of {payload.Length}; client {Client.Phase} {Client.CloseInfo}, server {Server?.Phase} {Server?.CloseInfo}");
        return (id, received.ToArray());
    }

    /// <summary>Moves everything readable from one stream of a core into a list.</summary>
    public static int Drain(QuicConnectionCore core, ulong streamId, List<byte> into, out bool fin)
    {
        var chunk = new byte[65536];
        int total = 0;
        fin = false;
        while (true)
        {
            int n;
            try { n = core.Streams.Read(streamId, chunk, out fin); }
            catch (InvalidOperationException) { return total; } // the peer's stream is not open here yet

            into.AddRange(chunk.AsSpan(0, n).ToArray());
            total += n;
            if (n == 0 || fin) return total;
        }
    }

    public void Dispose()
    {
        Client.Dispose();
        Server?.Dispose();
    }
}

/// <summary>Test-side knobs for <see cref="ConnectionSettings"/>.</summary>
internal sealed class ConnectionSettingsBuilder(QuicPerspective perspective)
{
    public List<string> Alpn { get; set; } = ["test"];
    public X509Certificate2? Certificate { get; set; }
    public bool Disable1RttEncryption { get; set; }
    /// <summary>Advertise min_ack_delay (the ACK frequency extension).</summary>
    public bool EnableAckFrequency { get; set; } = true;
    public ulong IdleTimeoutMs { get; set; } = 30_000;
    public ulong StreamWindow { get; set; } = 1 << 20;
    public FastRelay.Protocols.Quic.Recovery.CongestionControlAlgorithm CongestionControl { get; set; }
    public int MaxPathMtuProbeSize { get; set; }
    public ulong MaxUdpPayloadSize { get; set; } = FastRelay.Protocols.Quic.Wire.TransportParameters.DefaultMaxUdpPayloadSize;
    /// <summary>QUIC versions (client: most preferred first; server: what it speaks) and the client's first-flight version.</summary>
    public List<uint> Versions { get; set; } = [QuicVersion.V1];
    public uint InitialVersion { get; set; } = QuicVersion.V1;
    public uint? AbandonedVersion { get; set; }

    public Microsoft.Extensions.Logging.ILogger? Logger { get; set; }
    public Func<QuicPerspective, ConnectionId, FastRelay.Protocols.Quic.Qlog.IConnectionTracer>? TracerFactory { get; set; }

    public ConnectionSettings Build() => new()
    {
        Logger = Logger,
        TracerFactory = TracerFactory,
        Perspective = perspective,
        ApplicationProtocols = Alpn,
        Certificate = Certificate,
        SkipCertificateValidation = true,
        Disable1RttEncryption = Disable1RttEncryption,
        EnableAckFrequency = EnableAckFrequency,
        MaxIdleTimeoutMs = IdleTimeoutMs,
        InitialMaxStreamData = StreamWindow,
        CongestionControl = CongestionControl,
        MaxPathMtuProbeSize = MaxPathMtuProbeSize,
        AdvertisedMaxUdpPayloadSize = MaxUdpPayloadSize,
        Versions = Versions,
        InitialVersion = InitialVersion,
        AbandonedVersion = AbandonedVersion,
        ResetKey = StatelessResetKey.CreateRandom(),
    };
}

/// <summary>Collects log lines with the virtual time, for failure messages.</summary>
internal sealed class TestLog(string name, Func<long> clock, System.Text.StringBuilder sink) : Microsoft.Extensions.Logging.ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;
    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (sink) sink.AppendLine($"{clock() / 1000.0:F1}ms {name}: {formatter(state, exception)}");
    }
}
