namespace FastRelay.Protocols.Moq.Clients;

/// <summary>When a publisher stops: after a duration, after a number of objects, or when cancelled (whichever first).</summary>
public sealed record PublishLimits(TimeSpan? Duration = null, long? Count = null)
{
    public bool Reached(TimeSpan elapsed, long objects) =>
        (Duration is { } d && elapsed >= d) || (Count is { } c && objects >= c);
}
