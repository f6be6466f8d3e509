using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;

namespace FastRelay.Protocols.Moq.Publisher;

/// <summary>
/// One subgroup's stream: objects in increasing Object ID order, then <see cref="CompleteAsync"/> (FIN: every object
/// of the subgroup was sent) or <see cref="Reset"/> (some were not). A write that exceeds the subscription's
/// SUBGROUP_DELIVERY_TIMEOUT resets the stream with DELIVERY_TIMEOUT and throws <see cref="TimeoutException"/>.
/// <para>
/// The steady-state object write allocates nothing: each object's header is serialized into one scratch buffer reused
/// under the write lock (a transport copies what it accepts before WriteAsync completes), and the delivery-timeout
/// timer is one reset <see cref="CancellationTokenSource"/>.
/// </para>
/// </summary>
public sealed class MoqSubgroupStream
{
    private readonly IMoqStream _stream;
    private readonly MoqSubgroupObjectWriter _objects;
    private readonly TimeSpan? _deliveryTimeout;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly MoqWriter _scratch = new(64);
    private CancellationTokenSource? _timeout; // reused per write while it never fired (guarded by _writeLock)

    private MoqSubgroupStream(IMoqStream stream, MoqSubgroupHeader header, TimeSpan? deliveryTimeout)
    {
        _stream = stream;
        Header = header;
        _objects = new MoqSubgroupObjectWriter(header);
        _deliveryTimeout = deliveryTimeout;
    }

    public MoqSubgroupHeader Header { get; }
    public ulong GroupId => Header.GroupId;
    public ulong SubgroupId => Header.SubgroupId;

    internal static async Task<MoqSubgroupStream> OpenAsync(MoqTrackPublication publication, MoqSubgroupHeader header, int priority, CancellationToken cancellationToken)
    {
        var stream = await publication.Session.Transport.OpenStreamAsync(bidirectional: false, cancellationToken).ConfigureAwait(false);
        stream.SendPriority = priority;
        var subgroup = new MoqSubgroupStream(stream, header, publication.SubgroupDeliveryTimeout);
        await subgroup._writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            header.Write(subgroup._scratch);
            await subgroup.SendAsync(subgroup._scratch.WrittenMemory, default, false, cancellationToken).ConfigureAwait(false);
        }
        finally { subgroup._writeLock.Release(); }
        return subgroup;
    }

    /// <summary>
    /// Completes when the peer acknowledged every byte of the stream and its FIN (after <see cref="CompleteAsync"/>);
    /// faults when the stream was reset or the session closed first. A publisher closes only after this.
    /// </summary>
    public Task Delivered => _stream.WritesAcknowledged;

    /// <summary>Writes a Normal object (Object IDs must increase).</summary>
    public Task WriteObjectAsync(ulong objectId, ReadOnlyMemory<byte> payload, IReadOnlyList<MoqKeyValuePair>? properties = null, CancellationToken cancellationToken = default) =>
        WriteAsync(objectId, payload, MoqObjectStatus.Normal, properties, fin: false, cancellationToken);

    /// <summary>Writes a status object: End of Group or End of Track at <paramref name="objectId"/>.</summary>
    public Task WriteStatusAsync(ulong objectId, MoqObjectStatus status, CancellationToken cancellationToken = default) =>
        WriteAsync(objectId, ReadOnlyMemory<byte>.Empty, status, null, fin: false, cancellationToken);

    /// <summary>Writes End of Group at <paramref name="objectId"/> and ends the stream.</summary>
    public Task EndGroupAsync(ulong objectId, CancellationToken cancellationToken = default) =>
        WriteAsync(objectId, ReadOnlyMemory<byte>.Empty, MoqObjectStatus.EndOfGroup, null, fin: true, cancellationToken);

    /// <summary>FIN: the whole subgroup was sent.</summary>
    public async Task CompleteAsync()
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try { _stream.CompleteWrites(); }
        finally { _writeLock.Release(); }
    }

    /// <summary>RESET_STREAM: objects of this subgroup were left out (timeout, cancellation, ...).</summary>
    public void Reset(MoqStreamResetCode code = MoqStreamResetCode.Cancelled) => _stream.Reset((ulong)code);

    private async Task WriteAsync(ulong objectId, ReadOnlyMemory<byte> payload, MoqObjectStatus status, IReadOnlyList<MoqKeyValuePair>? properties,
        bool fin, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _scratch.Clear();
            _objects.Write(_scratch, objectId, payload.Span, status, properties, includePayload: false);
            await SendAsync(_scratch.WrittenMemory, payload, fin, cancellationToken).ConfigureAwait(false);
        }
        finally { _writeLock.Release(); }
    }

    /// <summary>Under <see cref="_writeLock"/>: <paramref name="header"/> may be the scratch buffer.</summary>
    private async Task SendAsync(ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> payload, bool fin, CancellationToken cancellationToken)
    {
        var timeout = StartTimeout();
        // A linked source only when the caller's token can fire too (it costs an allocation per write).
        using var linked = timeout is not null && cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token) : null;
        var token = linked?.Token ?? timeout?.Token ?? cancellationToken;
        try
        {
            // Header and payload queued together: one flush, so the header shares the payload's first packet.
            await _stream.WriteAsync(header, payload, fin, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
        {
            Reset(MoqStreamResetCode.DeliveryTimeout);
            throw new TimeoutException("subgroup delivery timeout exceeded; the stream was reset");
        }
        finally { timeout?.CancelAfter(Timeout.InfiniteTimeSpan); }
    }

    /// <summary>The delivery-timeout source armed for one write: the previous one reset, a new one only after it fired.</summary>
    private CancellationTokenSource? StartTimeout()
    {
        if (_deliveryTimeout is not { } t) return null;
        if (_timeout is null || !_timeout.TryReset())
        {
            _timeout?.Dispose();
            _timeout = new CancellationTokenSource();
        }
        _timeout.CancelAfter(t);
        return _timeout;
    }
}
