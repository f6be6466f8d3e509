namespace FastRelay.Protocols.Moq.Clients;

/// <summary>When a subscriber stops.</summary>
public sealed record SubscribeLimits(TimeSpan? Duration = null, long? ExpectObjects = null, bool StopWhenExpected = true);

/// <summary>
/// Reads a subscription's objects into an <see cref="ObjectChecker"/> until the duration passes, the expected number of
/// objects has arrived (with <see cref="SubscribeLimits.StopWhenExpected"/>), the track ends, or cancellation; then reports.
/// Receive times are taken by the session when an object completes (<see cref="ReceivedObject.ReceivedAtMicroseconds"/>).
/// </summary>
public static class TrackSubscriber
{
    public static async Task<MoqSubscriberReport> RunAsync(IMoqTrackSubscription subscription, SubscribeLimits limits,
        string url, string trackText, string startText, TimeProvider time, CancellationToken cancellationToken,
        Action<ReceivedObject, ObjectVerdict>? onObject = null)
    {
        var checker = new ObjectChecker();
        var start = time.GetTimestamp();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (limits.Duration is { } d) stop.CancelAfter(d);
        string? ended = null;
        var completed = false;
        try
        {
            await foreach (var received in subscription.ReadObjectsAsync(stop.Token))
            {
                var verdict = checker.Check(received);
                onObject?.Invoke(received, verdict);
                if (limits.StopWhenExpected && limits.ExpectObjects is { } n && checker.Verified + checker.Unstamped >= n) break;
            }
            completed = true;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Duration over or Ctrl+C.
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            ended = e.Message;
        }
        if (completed && ended is null && !(limits.ExpectObjects is { } want && checker.Verified + checker.Unstamped >= want))
            ended = subscription.EndReason ?? "the track ended";
        var elapsed = time.GetElapsedTime(start);
        var seconds = Math.Max(elapsed.TotalSeconds, 1e-6);
        return new MoqSubscriberReport
        {
            Url = url,
            Track = trackText,
            Start = startText,
            DurationSeconds = Math.Round(elapsed.TotalSeconds, 3),
            Objects = checker.Objects,
            Bytes = checker.Bytes,
            KeyObjects = checker.KeyObjects,
            ViaFetch = checker.ViaFetch,
            Verified = checker.Verified,
            Unstamped = checker.Unstamped,
            ChecksumFailures = checker.ChecksumFailures,
            LengthFailures = checker.LengthFailures,
            LocationMismatches = checker.LocationMismatches,
            Duplicates = checker.Duplicates,
            MissingObjects = checker.MissingObjects,
            Gaps = checker.Gaps,
            Reordered = checker.Reordered,
            OutOfOrderInSubgroup = checker.OutOfOrderInSubgroup,
            NegativeLatencies = checker.NegativeLatencies,
            FirstGroup = checker.FirstGroup,
            LastGroup = checker.LastGroup,
            ObjectsPerSecond = Math.Round(checker.Objects / seconds, 1),
            BitsPerSecond = Math.Round(checker.Bytes * 8 / seconds),
            Latency = checker.Latency.Stats(),
            Expected = limits.ExpectObjects,
            EndedBecause = ended,
        };
    }
}
