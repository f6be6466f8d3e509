using System.Security.Cryptography.X509Certificates;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Tls.Certificates;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Tests.Quic.Connection;
using Xunit;

namespace FastRelay.Tests.Quic.FastPath;

/// <summary>
/// One downstream connection of a relay, in memory with a virtual clock: the relay's side (our stack, server role,
/// externally numbered once the test activates the slot) and a subscriber (our stack, client role, ordinary mode),
/// with a <see cref="KernelStandIn"/> on the relay's egress. Datagrams take <see cref="OneWayDelay"/>; the relay's
/// (after the stand-in) can be dropped by <see cref="DropToSubscriber"/>. Ring-buffer events reach the relay only when
/// the test drains them (or every step with <see cref="DrainEveryStep"/>), so reports can be late.
/// </summary>
internal sealed class RelayLink : IDisposable
{
    private sealed class Routes : IConnectionIdListener
    {
        public void OnIssued(in ConnectionId id) { }
        public void OnRetired(in ConnectionId id) { }
    }

    private static readonly Lazy<X509Certificate2> Certificate = new(() => SelfSignedCertificate.Create());

    private readonly List<(long At, bool ToRelay, byte[] Bytes)> _inFlight = [];
    private readonly byte[] _buffer = new byte[65536];
    private readonly ConnectionSettings _relaySettings;

    public RelayLink(Action<ConnectionSettingsBuilder>? subscriber = null, Action<ConnectionSettingsBuilder>? relay = null)
    {
        var s = new ConnectionSettingsBuilder(QuicPerspective.Client) { Disable1RttEncryption = true };
        subscriber?.Invoke(s);
        var r = new ConnectionSettingsBuilder(QuicPerspective.Server) { Certificate = Certificate.Value, Disable1RttEncryption = true };
        relay?.Invoke(r);
        _relaySettings = r.Build();
        Subscriber = QuicConnectionCore.CreateClient(s.Build(), new Routes(), Now);
    }

    public long Now { get; private set; } = 1_000_000;
    public long OneWayDelay { get; init; } = 10_000;
    public QuicConnectionCore Subscriber { get; }
    public QuicConnectionCore Relay { get; private set; } = null!;
    public KernelStandIn Kernel { get; } = new();
    public bool DrainEveryStep { get; set; } = true;
    /// <summary>Decides whether a datagram leaving the relay (after the stand-in, so with its wire number) is lost.</summary>
    public Func<byte[], bool> DropToSubscriber { get; set; } = _ => false;
    /// <summary>Every datagram that reached the subscriber's side of the link from the relay, in order (wire numbers).</summary>
    public List<byte[]> ToSubscriber { get; } = [];
    public List<byte[]> DroppedToSubscriber { get; } = [];

    /// <summary>Completes the handshake and lets HANDSHAKE_DONE and its acknowledgment pass (the relay is then only 1-RTT).</summary>
    public bool Handshake()
    {
        if (!RunUntil(() => Subscriber.IsHandshakeComplete && Relay?.IsHandshakeComplete == true)) return false;
        Advance(100_000);
        return Subscriber.Phase == ConnectionPhase.Established && Relay.Phase == ConnectionPhase.Established;
    }

    /// <summary>Runs at every step of <see cref="RunUntil"/> (the test's application: reading, writing, forwarding).</summary>
    public Action? OnStep { get; set; }

    /// <summary>A forwarded copy (built by the stand-in) enters the link towards the subscriber.</summary>
    public void InjectToSubscriber(byte[] packet) => Send(packet, toRelay: false);

    /// <summary>A datagram of the test's making enters the link towards the relay (hostile input).</summary>
    public void InjectToRelay(byte[] datagram) => Send(datagram, toRelay: true);

    /// <summary>The relay's connection id as the subscriber addresses it (from its latest 1-RTT datagram).</summary>
    public byte[]? RelayConnectionId { get; private set; }

    public bool RunUntil(Func<bool> done, long limit = 30_000_000)
    {
        long end = Now + limit;
        while (Now < end)
        {
            OnStep?.Invoke();
            if (done()) return true;
            if (DrainEveryStep && Relay is not null) Kernel.Drain(Relay);
            bool sent = Flush(Subscriber, toRelay: true);
            if (Relay is not null) sent |= Flush(Relay, toRelay: false);
            if (sent) continue;
            long next = _inFlight.Count > 0 ? _inFlight.Min(d => d.At) : long.MaxValue;
            next = Math.Min(next, Subscriber.NextTimeout);
            if (Relay is not null) next = Math.Min(next, Relay.NextTimeout);
            if (next == long.MaxValue || next > end) return done();
            Now = Math.Max(Now, next);
            Deliver();
            if (Subscriber.NextTimeout <= Now) Subscriber.OnTimeout(Now);
            if (Relay is not null && Relay.NextTimeout <= Now) Relay.OnTimeout(Now);
        }
        return done();
    }

    /// <summary>Advances virtual time by <paramref name="micros"/>, running both ends meanwhile.</summary>
    public void Advance(long micros)
    {
        long until = Now + micros;
        RunUntil(() => Now >= until, micros);
        Now = Math.Max(Now, until);   // nothing was due before: the clock simply moves on
    }

    private bool Flush(QuicConnectionCore core, bool toRelay)
    {
        bool any = false;
        for (int i = 0; i < 1000; i++)
        {
            int n = core.WriteDatagram(_buffer, Now);
            if (n == 0) break;
            any = true;
            var bytes = _buffer.AsSpan(0, n).ToArray();
            if (!toRelay) Kernel.Egress(bytes, Now);
            else if ((bytes[0] & 0x80) == 0) RelayConnectionId = bytes.AsSpan(1, 8).ToArray();
            Send(bytes, toRelay);
        }
        return any;
    }

    private void Send(byte[] bytes, bool toRelay)
    {
        if (!toRelay)
        {
            if (DropToSubscriber(bytes))
            {
                DroppedToSubscriber.Add(bytes);
                return;
            }
            ToSubscriber.Add(bytes);
        }
        _inFlight.Add((Now + OneWayDelay, toRelay, bytes));
    }

    private void Deliver()
    {
        var due = _inFlight.Where(d => d.At <= Now).ToList();
        _inFlight.RemoveAll(d => d.At <= Now);
        foreach (var (_, toRelay, bytes) in due)
        {
            if (toRelay)
            {
                Relay ??= StartRelay(bytes);
                Relay.OnDatagram(bytes, Now);
            }
            else Subscriber.OnDatagram(bytes.ToArray(), Now);   // the core decrypts in place: keep our record intact
        }
    }

    private QuicConnectionCore StartRelay(byte[] firstDatagram)
    {
        Assert.True(PacketHeaderParser.TryParse(firstDatagram, 8, out var header, out _));
        ConnectionId.TryCreate(header.DestinationConnectionId.Span, out var dcid);
        ConnectionId.TryCreate(header.SourceConnectionId.Span, out var scid);
        var context = new ServerHandshakeContext(dcid, dcid, scid, ConnectionId.Random(8), null, AddressValidated: false);
        return QuicConnectionCore.CreateServer(_relaySettings, context, new Routes(), Now);
    }

    public void Dispose()
    {
        Subscriber.Dispose();
        Relay?.Dispose();
    }
}
