namespace FastRelay.Protocols.CustomUdp.Relay;

/// <summary>
/// When a subscriber the relay has sent no DATA for a while should hear from it anyway. A subscriber that hears nothing
/// from the relay for a second starts over (it must: the relay may have restarted and forgotten it), and starting over
/// costs: a new handshake, numbering from 0, the relay's counters for it reset, its history replayed again. A channel
/// that is merely quiet sends nothing either, so without a sign of life every subscriber of a quiet channel started over
/// every second. The relay therefore answers the FEEDBACK (every 100 ms) of a subscriber it has numbered no DATA for
/// since <c>quietNs</c> with its REPLY again, at most once per <c>quietNs</c>; while DATA flows it answers nothing.
/// Used by the receive thread only.
/// </summary>
/// <param name="quietNs">How long without DATA before a FEEDBACK is answered (well under the subscriber's second).</param>
/// <param name="startNs">When the subscriber was accepted (its numbering starts at 0 then).</param>
public sealed class IdleKeepalive(long quietNs, long startNs)
{
    private ulong _lastNext;
    private long _sinceNs = startNs;

    /// <summary>Called with each authenticated FEEDBACK: true when the relay should answer it.</summary>
    /// <param name="nextSequence">The number the subscriber's next DATA will get: it moves with every DATA sent to it,
    /// whoever made the copy (the kernel or the relay socket).</param>
    public bool Due(ulong nextSequence, long nowNs)
    {
        if (nextSequence != _lastNext)
        {
            _lastNext = nextSequence;
            _sinceNs = nowNs;
            return false;
        }
        if (nowNs - _sinceNs < quietNs)
            return false;
        _sinceNs = nowNs;
        return true;
    }
}
