namespace FastRelay.Protocols.Quic.Recovery;

/// <summary>
/// Congestion control as loss detection drives it (RFC 9002 §7). Byte counts are QUIC packet sizes; only in-flight
/// packets count. Times are absolute microseconds.
/// </summary>
public interface ICongestionController
{
    long CongestionWindow { get; }
    long BytesInFlight { get; }

    /// <summary>bytes_in_flight + bytes &lt;= congestion_window. ACK-only packets are not subject to this.</summary>
    bool CanSend(int bytes);

    /// <summary>Counts an in-flight packet (ignored if <see cref="SentPacket.InFlight"/> is false).</summary>
    void OnPacketSent(SentPacket p);

    /// <summary>A packet newly acknowledged: leaves bytes in flight and may grow the window.</summary>
    void OnPacketAcked(SentPacket p, long now);

    /// <summary>
    /// In-flight packets declared lost in one detection pass: <paramref name="lostBytes"/> leave bytes in flight and
    /// one congestion event is raised for the newest of them (<paramref name="largestLost"/>, by send time).
    /// </summary>
    void OnPacketsLost(SentPacket largestLost, long lostBytes, long now);

    /// <summary>
    /// Initial window and slow start again, for a new network path (RFC 9000 §9.4); bytes in flight stay counted until
    /// the packets sent on the old path are acknowledged or declared lost.
    /// </summary>
    void ResetForNewPath();

    /// <summary>Persistent congestion was established (§7.6): collapse to the minimum window.</summary>
    void OnPersistentCongestion();

    /// <summary>The packet's keys were discarded: it leaves bytes in flight without any congestion signal (§6.4).</summary>
    void RemoveFromBytesInFlight(SentPacket p);

    /// <summary>Pacing (§7.7): the earliest time <paramref name="bytes"/> may be sent; <paramref name="now"/> if no delay.</summary>
    long NextSendTime(int bytes, long now);
}
