namespace FastRelay.Protocols.Moq.Clients;

/// <summary>The subgroup streams a publisher has open in the current group, opened on an object that opens its subgroup
/// and completed after the one that closes it; whatever is still open at the end is completed too (never left
/// dangling: a receiver would wait on it).</summary>
internal sealed class SubgroupWriters(IMoqTrackPublisher publisher) : IAsyncDisposable
{
    private readonly Dictionary<(ulong Group, ulong Subgroup), IMoqSubgroupWriter> _open = [];

    public long Opened { get; private set; }

    public async ValueTask WriteAsync(ulong group, ulong subgroup, byte priority, ulong objectId, ReadOnlyMemory<byte> payload,
        bool opens, bool closes, CancellationToken cancellationToken)
    {
        var key = (group, subgroup);
        if (!_open.TryGetValue(key, out var writer) || opens)
        {
            if (writer is not null) await CloseAsync(key, cancellationToken);
            // A new group: the previous group's subgroups are finished even if their last planned object was skipped.
            foreach (var stale in _open.Keys.Where(k => k.Group < group).ToList())
                await CloseAsync(stale, cancellationToken);
            writer = await publisher.OpenSubgroupAsync(group, subgroup, priority, cancellationToken);
            _open[key] = writer;
            Opened++;
        }
        await writer.WriteObjectAsync(objectId, payload, cancellationToken);
        if (closes) await CloseAsync(key, cancellationToken);
    }

    private async ValueTask CloseAsync((ulong, ulong) key, CancellationToken cancellationToken)
    {
        if (!_open.Remove(key, out var writer)) return;
        try
        {
            await writer.CompleteAsync(cancellationToken);
        }
        finally
        {
            await writer.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var key in _open.Keys.ToList())
        {
            try
            {
                await CloseAsync(key, CancellationToken.None);
            }
            catch (Exception)
            {
                // The session is gone: nothing left to finish.
            }
        }
    }
}
