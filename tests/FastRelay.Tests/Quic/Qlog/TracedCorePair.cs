using System.Security.Cryptography.X509Certificates;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Qlog;
using FastRelay.Protocols.Quic.Tls.Certificates;
using FastRelay.Protocols.Quic.Wire;
using Xunit;

namespace FastRelay.Tests.Quic.Qlog;

/// <summary>
/// A client core and a server core on an in-memory network with a virtual clock (the shape of Connection/CorePair),
/// each with a <see cref="QlogTracer"/> writing into a MemoryStream — or no tracer at all (<c>traced: false</c>).
/// </summary>
internal sealed class TracedCorePair : IDisposable
{
    private sealed class NoRoutes : IConnectionIdListener
    {
        public void OnIssued(in ConnectionId id) { }
        public void OnRetired(in ConnectionId id) { }
    }

    private static readonly Lazy<X509Certificate2> SharedCertificate = new(() => SelfSignedCertificate.Create());

    private readonly List<(long At, bool ToServer, byte[] Bytes)> _inFlight = [];
    private readonly byte[] _buffer = new byte[65536];
    private readonly bool _traced;
    private int _toServer, _toClient;

    public TracedCorePair(bool traced = true, ulong idleTimeoutMs = 30_000)
    {
        _traced = traced;
        IdleTimeoutMs = idleTimeoutMs;
        Client = QuicConnectionCore.CreateClient(Settings(QuicPerspective.Client), new NoRoutes(), Now);
    }

    public long Now { get; private set; } = 1_000_000;
    public long OneWayDelay { get; init; } = 10_000;
    public ulong IdleTimeoutMs { get; }
    /// <summary>(toServer, index of the datagram in that direction) → dropped.</summary>
    public Func<bool, int, bool> Lose { get; init; } = (_, _) => false;
    public QuicConnectionCore Client { get; }
    public QuicConnectionCore? Server { get; private set; }
    public MemoryStream ClientLog { get; } = new();
    public MemoryStream ServerLog { get; } = new();

    private ConnectionSettings Settings(QuicPerspective perspective) => new()
    {
        Perspective = perspective,
        ApplicationProtocols = ["test"],
        Certificate = perspective == QuicPerspective.Server ? SharedCertificate.Value : null,
        SkipCertificateValidation = true,
        MaxIdleTimeoutMs = IdleTimeoutMs,
        ResetKey = StatelessResetKey.CreateRandom(),
        TracerFactory = _traced
            ? (p, odcid) => new QlogTracer(p == QuicPerspective.Client ? ClientLog : ServerLog, p, odcid, leaveOpen: true)
            : null,
    };

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
            var due = _inFlight.Where(d => d.At <= Now).ToList();
            _inFlight.RemoveAll(d => d.At <= Now);
            foreach (var (_, toServer, bytes) in due)
            {
                if (toServer)
                {
                    Server ??= StartServer(bytes);
                    Server.OnDatagram(bytes, Now);
                }
                else Client.OnDatagram(bytes, Now);
            }
            if (Client.NextTimeout <= Now) Client.OnTimeout(Now);
            if (Server is not null && Server.NextTimeout <= Now) Server.OnTimeout(Now);
        }
        return done();
    }

    public bool Handshake() => RunUntil(() => Client.IsHandshakeComplete && Server?.IsHandshakeComplete == true);

    /// <summary>Sends <paramref name="payload"/> from the client on a new bidirectional stream and waits for the server to read it all.</summary>
    public ulong Transfer(byte[] payload)
    {
        Assert.True(Client.Streams.TryOpenStream(true, out ulong id));
        int offset = 0, received = 0;
        bool fin = false;
        var chunk = new byte[65536];
        Assert.True(RunUntil(() =>
        {
            if (offset < payload.Length)
            {
                offset += Client.Streams.Write(id, payload.AsSpan(offset), false);
                if (offset == payload.Length) Client.Streams.Write(id, [], true);
            }
            while (!fin)
            {
                int n;
                try { n = Server!.Streams.Read(id, chunk, out fin); }
                catch (InvalidOperationException) { break; } // not open on the server yet
                received += n;
                if (n == 0) break;
            }
            return fin;
        }, limit: 60_000_000), $"received {received} of {payload.Length}");
        Assert.Equal(payload.Length, received);
        return id;
    }

    private bool Flush(QuicConnectionCore core, bool toServer)
    {
        bool any = false;
        for (int i = 0; i < 1000; i++)
        {
            int n = core.WriteDatagram(_buffer, Now);
            if (n == 0) break;
            any = true;
            int index = toServer ? _toServer++ : _toClient++;
            if (!Lose(toServer, index)) _inFlight.Add((Now + OneWayDelay, toServer, _buffer.AsSpan(0, n).ToArray()));
        }
        return any;
    }

    private QuicConnectionCore StartServer(byte[] firstDatagram)
    {
        Assert.True(PacketHeaderParser.TryParse(firstDatagram, 8, out var header, out _));
        ConnectionId.TryCreate(header.DestinationConnectionId.Span, out var dcid);
        ConnectionId.TryCreate(header.SourceConnectionId.Span, out var scid);
        var context = new ServerHandshakeContext(dcid, dcid, scid, ConnectionId.Random(8), null, AddressValidated: false);
        return QuicConnectionCore.CreateServer(Settings(QuicPerspective.Server), context, new NoRoutes(), Now);
    }

    public void Dispose()
    {
        Client.Dispose();
        Server?.Dispose();
    }
}
