using System.Text.Json;
using System.Text.Json.Serialization;

namespace FastRelay.Protocols.CustomUdp.Clients;

/// <summary>What a <see cref="Subscriber"/> saw. Counts are packets unless named otherwise; "gaps" are sequences.</summary>
public sealed record SubscriberReport
{
    public required string Relay { get; init; }
    public required int Channel { get; init; }
    /// <summary>The relay accepted the subscription (at least once).</summary>
    public bool Subscribed { get; init; }
    /// <summary>Last REPLY status other than Accepted, if any (e.g. RelayFull).</summary>
    public string? Rejection { get; init; }
    public double DurationSeconds { get; init; }
    /// <summary>SUBSCRIBE messages sent (first attempts, retries and re-subscriptions).</summary>
    public int HandshakeAttempts { get; init; }
    /// <summary>Re-subscriptions after a second of silence (e.g. the relay restarted).</summary>
    public int Resubscribes { get; init; }

    /// <summary>Distinct DATA packets received in sequence order or late (reordered); repaired ones are not included.</summary>
    public long Received { get; init; }
    /// <summary>DATA received per priority 0..7 (0 = most urgent): shows which levels a byte budget dropped.</summary>
    public long[] ReceivedByPriority { get; init; } = new long[Wire.CustomUdpWire.PriorityLevels];
    public long Bytes { get; init; }
    /// <summary>Gaps filled by a REPAIR (<see cref="FilledLate"/> included).</summary>
    public long Repaired { get; init; }
    /// <summary>Gaps filled by the DATA packet itself arriving late.</summary>
    public long Reordered { get; init; }
    /// <summary>DATA or REPAIR for a sequence already received.</summary>
    public long Duplicates { get; init; }
    /// <summary>DATA or REPAIR for a sequence too old to know, or already filled after it had been given up.</summary>
    public long TooLate { get; init; }
    public long History { get; init; }

    public long GapsDetected { get; init; }
    /// <summary>Gaps given up after the NACKs went unanswered and never filled since, plus those still open at stop: packets
    /// this subscriber never got.</summary>
    public long UnrepairedGaps { get; init; }
    /// <summary>Gaps filled (counted in <see cref="Repaired"/> or <see cref="Reordered"/>) only after the subscriber had given
    /// them up: every NACK's answer came after its retry interval. The packet was not lost, but it came too late for a
    /// reader that cannot wait; on a loaded machine the relay (or this process) was not scheduled in time.</summary>
    public long FilledLate { get; init; }
    /// <summary>Of <see cref="UnrepairedGaps"/>: still open (not yet given up) when the subscriber stopped.</summary>
    public long OpenGapsAtStop { get; init; }
    public long NacksSent { get; init; }
    public long NackedSequences { get; init; }
    public long FeedbackSent { get; init; }
    /// <summary>Numbering jumps the tracker could not bridge (should be 0).</summary>
    public long SequenceResyncs { get; init; }
    /// <summary>Publisher sequences in the received range the relay never sent us (priority drop, upstream loss):
    /// span of publisher sequences seen minus distinct ones delivered.</summary>
    public long NotSentByRelay { get; init; }

    /// <summary>Payloads whose pattern or length did not verify.</summary>
    public long IntegrityErrors { get; init; }
    /// <summary>Publisher packets delivered a second time under another of our sequence numbers (should be 0: a copy or a
    /// repair carried the wrong packet).</summary>
    public long RepeatedPublisherPackets { get; init; }
    /// <summary>Packets of another channel (header or payload).</summary>
    public long WrongChannel { get; init; }
    /// <summary>Datagrams from the relay that are not valid custom-UDP.</summary>
    public long Malformed { get; init; }
    /// <summary>Datagrams from anyone but the relay (dropped).</summary>
    public long Foreign { get; init; }
    /// <summary>DATA whose timestamp is later than its receive time (clocks not shared: delay not recorded).</summary>
    public long NegativeDelays { get; init; }

    /// <summary>One-way delay of DATA packets (receive CLOCK_MONOTONIC − header timestamp), µs.</summary>
    public required DelayStats Delay { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, CustomUdpJsonContext.Default.SubscriberReport);

    /// <summary>A few readable lines (what `fastrelay subscribe` prints).</summary>
    public string ToSummary()
    {
        var state = Subscribed ? "subscribed" : "NOT subscribed" + (Rejection is null ? " (no answer from the relay)" : $" ({Rejection})");
        var d = Delay;
        return string.Join(Environment.NewLine,
            $"subscriber {Relay} channel {Channel}: {DurationSeconds:0.00} s, {state}; {HandshakeAttempts} handshake(s), {Resubscribes} re-subscribe(s)",
            $"  received   {Received} DATA ({Bytes / 1e6:0.###} MB), {Repaired} repaired, {Reordered} reordered, {Duplicates} duplicate(s), {TooLate} too late, {History} history",
            $"  gaps       {GapsDetected} detected, {UnrepairedGaps} unrepaired ({OpenGapsAtStop} open at stop), {FilledLate} filled after being given up; {NacksSent} NACK(s) for {NackedSequences} sequences; {FeedbackSent} FEEDBACK; {NotSentByRelay} not sent by the relay",
            $"  integrity  {IntegrityErrors} error(s), {RepeatedPublisherPackets} repeated, {WrongChannel} wrong channel, {Malformed} malformed, {Foreign} foreign, {NegativeDelays} negative delay(s)",
            d.Count == 0
                ? "  delay      no DATA"
                : $"  delay µs   p50 {d.P50Us}  p90 {d.P90Us}  p99 {d.P99Us}  p99.9 {d.P999Us}  max {d.MaxUs}  (min {d.MinUs}, mean {d.MeanUs}, n {d.Count})");
    }
}

/// <summary>What a <see cref="Publisher"/> did.</summary>
public sealed record PublisherReport
{
    public required string Relay { get; init; }
    public required int Channel { get; init; }
    public bool Accepted { get; init; }
    public string? Rejection { get; init; }
    public int HandshakeAttempts { get; init; }
    public long PacketsSent { get; init; }
    public long BytesSent { get; init; }
    public long SendErrors { get; init; }
    /// <summary>Times the pacer fell more than 50 ms behind and restarted its schedule instead of bursting.</summary>
    public long ScheduleResets { get; init; }
    public double DurationSeconds { get; init; }
    public double RatePps { get; init; }
    /// <summary>Packets sent per priority 0..7.</summary>
    public required long[] PerPriority { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, CustomUdpJsonContext.Default.PublisherReport);

    /// <summary>A few readable lines (what `fastrelay publish` prints).</summary>
    public string ToSummary()
    {
        var state = Accepted ? "accepted" : $"NOT accepted ({Rejection})";
        return string.Join(Environment.NewLine,
            $"publisher {Relay} channel {Channel}: {DurationSeconds:0.00} s, {state}; {HandshakeAttempts} handshake(s)",
            $"  sent       {PacketsSent} DATA ({BytesSent / 1e6:0.###} MB) at {RatePps} pps, {SendErrors} send error(s), {ScheduleResets} schedule reset(s)",
            $"  priority   " + string.Join("  ", PerPriority.Select((n, p) => $"{p}:{n}")));
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(SubscriberReport))]
[JsonSerializable(typeof(PublisherReport))]
public sealed partial class CustomUdpJsonContext : JsonSerializerContext;
