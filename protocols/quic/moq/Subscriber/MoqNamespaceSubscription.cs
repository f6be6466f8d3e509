using System.Threading.Channels;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Wire;

namespace FastRelay.Protocols.Moq.Subscriber;

/// <summary>A namespace became available (<see cref="Active"/>) or went away, under a SUBSCRIBE_NAMESPACE prefix.</summary>
public readonly record struct MoqNamespaceEvent(MoqTrackNamespace Namespace, MoqTrackNamespace Suffix, bool Active);

/// <summary>
/// An accepted SUBSCRIBE_NAMESPACE: NAMESPACE / NAMESPACE_DONE arrive as <see cref="Events"/>; when the publisher ends
/// the stream every active namespace is reported gone (§"SUBSCRIBE_NAMESPACE").
/// </summary>
public sealed class MoqNamespaceSubscription : IAsyncDisposable
{
    private readonly Channel<MoqNamespaceEvent> _events = Channel.CreateUnbounded<MoqNamespaceEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly HashSet<MoqTrackNamespace> _active = new();
    private readonly int _maxActive;

    internal MoqNamespaceSubscription(MoqSession session, MoqRequestStream stream, ulong requestId, MoqTrackNamespace prefix, int maxActive)
    {
        Session = session;
        Stream = stream;
        RequestId = requestId;
        Prefix = prefix;
        _maxActive = maxActive;
    }

    public MoqSession Session { get; }
    internal MoqRequestStream Stream { get; }
    public ulong RequestId { get; }
    public MoqTrackNamespace Prefix { get; }

    public ChannelReader<MoqNamespaceEvent> Events => _events.Reader;

    public IAsyncEnumerable<MoqNamespaceEvent> ReadEventsAsync(CancellationToken cancellationToken = default) => _events.Reader.ReadAllAsync(cancellationToken);

    /// <summary>Namespaces currently announced (full namespaces, prefix included).</summary>
    public IReadOnlyCollection<MoqTrackNamespace> Active
    {
        get { lock (_active) return _active.ToArray(); }
    }

    public ValueTask DisposeAsync()
    {
        Stream.Cancel(Wire.MoqStreamResetCode.Cancelled);
        End();
        return ValueTask.CompletedTask;
    }

    private MoqTrackNamespace Full(MoqTrackNamespace suffix)
    {
        try { return Prefix.Append(suffix); }
        catch (ArgumentException) { throw new MoqProtocolException(MoqError.Protocol("prefix + suffix exceed the namespace limits")); }
    }

    internal void OnNamespace(MoqTrackNamespace suffix)
    {
        var full = Full(suffix);
        lock (_active)
        {
            if (!_active.Add(full)) return;
            // Each entry costs memory for the session's life: a peer announcing without end is cut off.
            if (_active.Count > _maxActive) throw new MoqProtocolException(MoqError.Protocol("too many namespaces announced"));
        }
        _events.Writer.TryWrite(new MoqNamespaceEvent(full, suffix, true));
    }

    internal void OnNamespaceDone(MoqTrackNamespace suffix)
    {
        var full = Full(suffix);
        lock (_active)
        {
            if (!_active.Remove(full)) throw new MoqProtocolException(MoqError.Protocol("NAMESPACE_DONE before its NAMESPACE"));
        }
        _events.Writer.TryWrite(new MoqNamespaceEvent(full, suffix, false));
    }

    /// <summary>The stream ended or was reset: every active namespace is gone.</summary>
    internal void End()
    {
        MoqTrackNamespace[] gone;
        lock (_active)
        {
            gone = _active.ToArray();
            _active.Clear();
        }
        foreach (var ns in gone) _events.Writer.TryWrite(new MoqNamespaceEvent(ns, ns.Suffix(Prefix.Count), false));
        _events.Writer.TryComplete();
    }
}
