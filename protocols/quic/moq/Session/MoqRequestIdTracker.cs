using FastRelay.Protocols.Moq.Wire;

namespace FastRelay.Protocols.Moq.Session;

/// <summary>
/// Checks the Request IDs the peer uses (§"Request ID"): the right parity (client even, server odd) and no reuse.
/// Requests travel on separate streams and may arrive out of order, so it keeps a low-water mark plus the IDs seen
/// above it; the set shrinks as the gaps fill, so its size is the reordering window, not the session's history.
/// </summary>
internal sealed class MoqRequestIdTracker(bool peerIsClient)
{
    private readonly HashSet<ulong> _above = new();
    private ulong _next = peerIsClient ? 0UL : 1UL;
    private readonly object _lock = new();

    /// <summary>Ids above the mark we keep at most; a peer skipping more than this many is treated as misbehaving.</summary>
    public const int MaxWindow = 4096;

    public bool TryUse(ulong id, out MoqError error)
    {
        lock (_lock)
        {
            if ((id & 1) != (peerIsClient ? 0UL : 1UL)) { error = new MoqError(MoqSessionError.InvalidRequestId, "request ID has the wrong parity"); return false; }
            if (id < _next || !_above.Add(id)) { error = new MoqError(MoqSessionError.InvalidRequestId, "duplicate request ID"); return false; }
            while (_above.Remove(_next)) _next += 2;
            if (_above.Count > MaxWindow) { error = new MoqError(MoqSessionError.InvalidRequestId, "request IDs skip too far ahead"); return false; }
            error = MoqError.None;
            return true;
        }
    }
}
