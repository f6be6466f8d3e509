namespace FastRelay.Relay;

/// <summary>
/// What a fan-out plane may keep of the upstream stream besides making copies: the kernel plane of a descriptor with a
/// kernel cache keeps the last packets of each channel (fr_cache) and handles upstream packets the relay's socket never
/// sees. A protocol's control plane reads it to repair losses and replay history; a plane without one (userspace: every
/// original reaches the socket) does not implement it.
/// </summary>
public interface IUpstreamHistory
{
    /// <summary>Copies the upstream packet numbered <paramref name="upstreamNumber"/> of the channel; false when it is not kept.</summary>
    bool TryCopy(ulong channel, ulong upstreamNumber, Span<byte> destination, out int length);

    /// <summary>Adds the numbers of the channel's kept packets received at or after <paramref name="sinceNs"/>
    /// (CLOCK_MONOTONIC) to <paramref name="into"/>.</summary>
    void AddSince(ulong channel, long sinceNs, List<ulong> into);

    /// <summary>Forgets every packet kept for the channel (a new publisher took it over: its numbers may repeat the old
    /// one's, and a repair must never carry the old publisher's packet).</summary>
    void Forget(ulong channel);

    /// <summary>Upstream packets of the channel handled without passing them up to the relay's socket, and when the last
    /// one arrived (CLOCK_MONOTONIC ns, 0 = none).</summary>
    (ulong Packets, long LastNs) UpstreamConsumed(ulong channel);
}
