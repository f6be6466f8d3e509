using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Messages;

namespace FastRelay.Protocols.Moq.Publisher;

/// <summary>
/// The answering side of a SUBSCRIBE_NAMESPACE: tell the subscriber which namespaces under its prefix exist.
/// NAMESPACE_DONE is only sent for a namespace announced before (the draft forbids the reverse order).
/// </summary>
public sealed class MoqNamespaceAnnouncer
{
    private readonly MoqRequestStream _stream;
    private readonly HashSet<MoqTrackNamespace> _announced = new();
    private readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal MoqNamespaceAnnouncer(MoqRequestStream stream, MoqTrackNamespace prefix)
    {
        _stream = stream;
        Prefix = prefix;
    }

    public MoqTrackNamespace Prefix { get; }

    /// <summary>Completes when the subscriber cancelled its SUBSCRIBE_NAMESPACE.</summary>
    public Task Cancelled => _cancelled.Task;

    /// <summary>NAMESPACE for <paramref name="ns"/> (a full namespace under <see cref="Prefix"/>); false if already announced.</summary>
    public async Task<bool> AnnounceAsync(MoqTrackNamespace ns)
    {
        if (!ns.StartsWith(Prefix)) throw new ArgumentException("namespace is not under the prefix", nameof(ns));
        lock (_announced) if (!_announced.Add(ns)) return false;
        await _stream.WriteAsync(new MoqNamespace(ns.Suffix(Prefix.Count))).ConfigureAwait(false);
        return true;
    }

    /// <summary>NAMESPACE_DONE for a namespace announced before; false if it was not.</summary>
    public async Task<bool> WithdrawAsync(MoqTrackNamespace ns)
    {
        lock (_announced) if (!_announced.Remove(ns)) return false;
        await _stream.WriteAsync(new MoqNamespaceDone(ns.Suffix(Prefix.Count))).ConfigureAwait(false);
        return true;
    }

    internal void OnCancelled() => _cancelled.TrySetResult();
}

/// <summary>A namespace the peer published to us (PUBLISH_NAMESPACE we accepted).</summary>
public sealed class MoqPeerNamespace
{
    private readonly TaskCompletionSource _withdrawn = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal MoqPeerNamespace(MoqSession session, MoqRequestStream stream, ulong requestId, MoqTrackNamespace ns)
    {
        Session = session;
        Stream = stream;
        RequestId = requestId;
        Namespace = ns;
    }

    public MoqSession Session { get; }
    internal MoqRequestStream Stream { get; }
    public ulong RequestId { get; }
    public MoqTrackNamespace Namespace { get; }

    /// <summary>Completes when the peer cancelled the PUBLISH_NAMESPACE or the session ended.</summary>
    public Task Withdrawn => _withdrawn.Task;

    internal void OnWithdrawn() => _withdrawn.TrySetResult();
}

/// <summary>A namespace we published to the peer (PUBLISH_NAMESPACE it accepted).</summary>
public sealed class MoqPublishedNamespace : IAsyncDisposable
{
    private readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal MoqPublishedNamespace(MoqRequestStream stream, ulong requestId, MoqTrackNamespace ns)
    {
        Stream = stream;
        RequestId = requestId;
        Namespace = ns;
    }

    internal MoqRequestStream Stream { get; }
    public ulong RequestId { get; }
    public MoqTrackNamespace Namespace { get; }

    /// <summary>Completes when the peer cancelled the request (it no longer routes to us) or the session ended.</summary>
    public Task Cancelled => _cancelled.Task;

    /// <summary>Withdraws the namespace: the request stream is cancelled.</summary>
    public ValueTask DisposeAsync()
    {
        Stream.Cancel(MoqStreamResetCode.Cancelled);
        _cancelled.TrySetResult();
        return ValueTask.CompletedTask;
    }

    internal void OnCancelled() => _cancelled.TrySetResult();
}
