using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;

namespace FastRelay.Protocols.Moq.Publisher;

/// <summary>
/// The FETCH_HEADER stream answering one FETCH: objects in the requested group order (Object ID order within a
/// group), End of Range markers for unknown or missing objects, then <see cref="CompleteAsync"/> (FIN).
/// </summary>
public sealed class MoqFetchStream
{
    private readonly IMoqStream _stream;
    private readonly MoqFetchObjectWriter _objects;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly MoqWriter _scratch = new(64);

    private MoqFetchStream(IMoqStream stream, MoqGroupOrder order)
    {
        _stream = stream;
        _objects = new MoqFetchObjectWriter(order);
    }

    internal static async Task<MoqFetchStream> OpenAsync(MoqSession session, ulong requestId, MoqGroupOrder order)
    {
        var stream = await session.Transport.OpenStreamAsync(bidirectional: false).ConfigureAwait(false);
        var fetch = new MoqFetchStream(stream, order);
        var w = new MoqWriter(16);
        MoqFetchObjectWriter.WriteHeader(w, requestId);
        await stream.WriteAsync(w.ToArray()).ConfigureAwait(false);
        return fetch;
    }

    /// <summary>Writes one object (SubgroupId null = an object that was sent as a datagram).</summary>
    public async Task WriteObjectAsync(MoqObject obj, CancellationToken cancellationToken = default)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _scratch.Clear();
            _objects.Write(_scratch, obj, includePayload: false);
            await _stream.WriteAsync(_scratch.ToArray(), false, cancellationToken).ConfigureAwait(false);
            if (!obj.Payload.IsEmpty) await _stream.WriteAsync(obj.Payload, false, cancellationToken).ConfigureAwait(false);
        }
        finally { _writeLock.Release(); }
    }

    /// <summary>Objects up to and including <paramref name="location"/> are unknown (or, with <paramref name="unknown"/> false, do not exist).</summary>
    public async Task WriteEndOfRangeAsync(MoqLocation location, bool unknown, CancellationToken cancellationToken = default)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _scratch.Clear();
            _objects.WriteEndOfRange(_scratch, location, unknown);
            await _stream.WriteAsync(_scratch.ToArray(), false, cancellationToken).ConfigureAwait(false);
        }
        finally { _writeLock.Release(); }
    }

    public void Complete() => _stream.CompleteWrites();

    public Task CompleteAsync()
    {
        _stream.CompleteWrites();
        return Task.CompletedTask;
    }

    public void Reset(MoqStreamResetCode code = MoqStreamResetCode.Cancelled) => _stream.Reset((ulong)code);
}
