using FastRelay.Protocols.Quic.Api;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Moq.Relay.FastPath;

/// <summary>
/// What the relay asks of each fast-path subscriber's ACKs (the QUIC ACK frequency extension, draft-ietf-quic-ack-
/// frequency-12, sent once when the connection goes on the fast path). A subscriber's ACKs are the fast path's remaining
/// per-packet userspace work (a datagram read and an ACK processed in the relay for every two forwarded packets by
/// RFC 9000's default), so fewer ACKs are fewer wake-ups and syscalls; but the relay's loss detection and congestion
/// controller run on them, and the controller drives the kernel's budget.
/// </summary>
/// <param name="AckElicitingThreshold">ACK after more than this many packets. <see cref="Default"/>: 4, an ACK per 5
/// packets: half the initial congestion window (10 packets), so a window always draws at least two ACKs and a sender in
/// slow start never waits out the delay for one (§8.1: no larger than the packets a window holds). A ceiling: the
/// connection asks less while its window is smaller (after loss) and follows it back.</param>
/// <param name="MaxAckDelay">ACK at the latest this long after the first unacknowledged packet. <see cref="Default"/>:
/// 20 ms, the kernel plane's credit refresh period (connection credit and the congestion drop threshold; the kernel's
/// budget itself follows every ACK); it is also below RFC 9000's 25 ms default, so the relay's PTO does not grow.</param>
/// <param name="ReorderingThreshold">Report a gap at once only this many packets past it. <see cref="Default"/>: 3,
/// loss detection's packet threshold (§9): a loss is still reported as soon as it can be declared, whatever the other
/// two say, so recovery of a lost forwarded packet waits no longer than with an ACK per two packets.</param>
public sealed record FastPathAckFrequency(ulong AckElicitingThreshold, TimeSpan MaxAckDelay, ulong ReorderingThreshold)
{
    public static FastPathAckFrequency Default { get; } = new(4, TimeSpan.FromMilliseconds(20), 3);

    /// <summary>"THRESHOLD:DELAY_MS" (e.g. "4:20"; reordering threshold 3) or "off" (null: RFC 9000's default ACKs).</summary>
    public static bool TryParse(string text, out FastPathAckFrequency? value)
    {
        value = null;
        if (text.Trim().Equals("off", StringComparison.OrdinalIgnoreCase)) return true;
        var parts = text.Split(':');
        if (parts.Length != 2 || !ulong.TryParse(parts[0], out ulong threshold) || threshold > 1000
            || !double.TryParse(parts[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double ms)
            || ms < 1 || ms >= 16_384)
            return false;
        value = new FastPathAckFrequency(threshold, TimeSpan.FromMilliseconds(ms), Default.ReorderingThreshold);
        return true;
    }

    /// <summary>Asks <paramref name="connection"/> for these ACKs if its peer advertised the extension (others are left
    /// at RFC 9000's default); false when it did not.</summary>
    public bool TryRequest(QuicConnection connection, ILogger log)
    {
        if (!connection.PeerSupportsAckFrequency) return false;
        try
        {
            connection.RequestAckFrequency(AckElicitingThreshold, MaxAckDelay, ReorderingThreshold);
            return true;
        }
        catch (ArgumentOutOfRangeException e)
        {
            // The peer's min_ack_delay is above what we ask: its ACKs stay at the default.
            log.LogDebug("fast path: {Remote} keeps its ACK frequency ({Reason})", connection.RemoteEndPoint, e.Message);
            return false;
        }
    }
}
