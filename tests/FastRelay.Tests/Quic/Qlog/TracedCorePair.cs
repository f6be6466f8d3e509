using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Qlog;
using FastRelay.Tests.Quic.Connection;

namespace FastRelay.Tests.Quic.Qlog;

/// <summary>
/// A <see cref="CorePair"/> whose two cores each write qlog into a MemoryStream through a <see cref="QlogTracer"/> — or
/// carry no tracer at all (<c>traced: false</c>).
/// </summary>
internal sealed class TracedCorePair : IDisposable
{
    private readonly CorePair _pair;

    public TracedCorePair(bool traced = true, ulong idleTimeoutMs = 30_000, Func<bool, int, bool>? lose = null)
    {
        Func<QuicPerspective, FastRelay.Protocols.Quic.Wire.ConnectionId, IConnectionTracer>? factory = traced
            ? (p, odcid) => new QlogTracer(p == QuicPerspective.Client ? ClientLog : ServerLog, p, odcid, leaveOpen: true)
            : null;
        void Configure(ConnectionSettingsBuilder b)
        {
            b.IdleTimeoutMs = idleTimeoutMs;
            b.TracerFactory = factory;
        }
        _pair = new CorePair(Configure, Configure) { Lose = lose ?? ((_, _) => false) };
    }

    public MemoryStream ClientLog { get; } = new();
    public MemoryStream ServerLog { get; } = new();
    public long Now => _pair.Now;
    public QuicConnectionCore Client => _pair.Client;
    public QuicConnectionCore? Server => _pair.Server;

    public bool RunUntil(Func<bool> done, long limit = 30_000_000) => _pair.RunUntil(done, limit);
    public bool Handshake() => _pair.Handshake();
    public ulong Transfer(byte[] payload) => _pair.Transfer(payload).StreamId;

    public void Dispose() => _pair.Dispose();
}
