using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;

namespace FastRelay.Protocols.Moq.Publisher;

/// <summary>
/// One subgroup's stream: objects in increasing Object ID order, then <see cref="CompleteAsync"/> (FIN: every object
/// of the subgroup was sent) or <see cref="Reset"/> (some were not). A write that exceeds the subscription's
/// SUBGROUP_DELIVERY_TIMEOUT resets the stream with DELIVERY_TIMEOUT and throws <see cref="TimeoutException"/>.
/// </summary>
public sealed class MoqSubgroupStream
{
    private readonly IMoqStream _stream;
    private readonly MoqSubgroupObjectWriter _objects;
    private readonly TimeSpan? _deliveryTimeout;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly MoqWriter _scratch = new(64);

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
        var w = new MoqWriter(32);
        header.Write(w);
        await subgroup.SendAsync(w.ToArray(), default, false, cancellationToken).ConfigureAwait(false);
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
            await SendAsync(_scratch.ToArray(), payload, fin, cancellationToken).ConfigureAwait(false);
        }
        finally { _writeLock.Release(); }
    }

    private async Task SendAsync(byte[] header, ReadOnlyMemory<byte> payload, bool fin, CancellationToken cancellationToken)
    {
        using var timeout = _deliveryTimeout is { } t ? new CancellationTokenSource(t) : null;
        using var linked = timeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var token = linked?.Token ?? cancellationToken;
        try
        {
            await _stream.WriteAsync(header, fin && payload.IsEmpty, token).ConfigureAwait(false);
            if (!payload.IsEmpty) await _stream.WriteAsync(payload, fin, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
        {
            Reset(MoqStreamResetCode.DeliveryTimeout);
            throw new TimeoutException("subgroup delivery timeout exceeded; the stream was reset");
        }
    }
}
