namespace FastRelay.Protocols.Moq.Clients;

/// <summary>The subgroup streams a publisher has open in the current group, opened on an object that opens its subgroup
/// and completed after the one that closes it; whatever is still open at the end is completed too (never left
/// dangling: a receiver would wait on it).
/// <para>With <see cref="IMoqTrackPublisher.OpensSubgroupsEarly"/> (a fast-path publisher), closing subgroup s of group
/// G opens subgroup s of group G + 1 at once, header only: a relay's kernel fast path maps a stream when its header
/// arrives, so the next group's first object (the large key object, a burst of packets) is then forwarded in the kernel
/// instead of racing the mapping through userspace. An early stream the track never uses (it jumped groups, or it
/// ended) is completed empty, which a subscriber reads as a subgroup without objects.</para></summary>
internal sealed class SubgroupWriters(IMoqTrackPublisher publisher) : IAsyncDisposable
{
    private readonly Dictionary<(ulong Group, ulong Subgroup), (IMoqSubgroupWriter Writer, byte Priority)> _open = [];
    private readonly Dictionary<(ulong Group, ulong Subgroup), (IMoqSubgroupWriter Writer, byte Priority)> _early = [];

    public long Opened { get; private set; }

    public async ValueTask WriteAsync(ulong group, ulong subgroup, byte priority, ulong objectId, ReadOnlyMemory<byte> payload,
        bool opens, bool closes, CancellationToken cancellationToken)
    {
        var key = (group, subgroup);
        if (!_open.TryGetValue(key, out var open) || opens)
        {
            if (open.Writer is not null) await CloseAsync(_open, key, cancellationToken);
            // A new group: the previous group's subgroups are finished even if their last planned object was skipped.
            foreach (var stale in _open.Keys.Where(k => k.Group < group).ToList())
                await CloseAsync(_open, stale, cancellationToken);
            foreach (var unused in _early.Keys.Where(k => k.Group < group).ToList())
                await CloseAsync(_early, unused, cancellationToken);
            if (!_early.Remove(key, out open) || open.Priority != priority)
            {
                if (open.Writer is not null) await CompleteAsync(open.Writer, cancellationToken);
                open = (await publisher.OpenSubgroupAsync(group, subgroup, priority, cancellationToken), priority);
                Opened++;
            }
            _open[key] = open;
        }
        await open.Writer!.WriteObjectAsync(objectId, payload, cancellationToken);
        if (closes)
        {
            await CloseAsync(_open, key, cancellationToken);
            if (publisher.OpensSubgroupsEarly) await OpenAheadAsync(group + 1, subgroup, priority, cancellationToken);
        }
    }

    /// <summary>Opens a subgroup before its first object (header only); the object that opens it later takes it.</summary>
    public async ValueTask OpenAheadAsync(ulong group, ulong subgroup, byte priority, CancellationToken cancellationToken)
    {
        if (_early.ContainsKey((group, subgroup)) || _open.ContainsKey((group, subgroup))) return;
        _early[(group, subgroup)] = (await publisher.OpenSubgroupAsync(group, subgroup, priority, cancellationToken), priority);
        Opened++;
    }

    private static async ValueTask CloseAsync(Dictionary<(ulong, ulong), (IMoqSubgroupWriter Writer, byte Priority)> from, (ulong, ulong) key,
        CancellationToken cancellationToken)
    {
        if (from.Remove(key, out var entry)) await CompleteAsync(entry.Writer, cancellationToken);
    }

    private static async ValueTask CompleteAsync(IMoqSubgroupWriter writer, CancellationToken cancellationToken)
    {
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
        foreach (var table in new[] { _open, _early })
            foreach (var key in table.Keys.ToList())
            {
                try
                {
                    await CloseAsync(table, key, CancellationToken.None);
                }
                catch (Exception)
                {
                    // The session is gone: nothing left to finish.
                }
            }
    }
}
