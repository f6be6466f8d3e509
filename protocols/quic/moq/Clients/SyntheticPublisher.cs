namespace FastRelay.Protocols.Moq.Clients;

/// <summary>
/// Publishes a <see cref="SyntheticTrack"/>: each object at its due time on an absolute schedule (start + n / fps, so
/// small delays do not add up), stamped with the send time immediately before the write, on the subgroup stream its
/// layer belongs to. When the transport holds the publisher back, objects go out as soon as it can (late, counted),
/// never dropped: the subscriber's gap count then measures the relay alone.
/// </summary>
public static class SyntheticPublisher
{
    public static async Task<MoqPublisherReport> RunAsync(IMoqTrackPublisher publisher, SyntheticTrack track, PublishLimits limits,
        string url, string trackText, TimeProvider time, CancellationToken cancellationToken)
    {
        var stats = new PublishStats();
        var frameMicroseconds = (long)(1_000_000 / track.Options.FramesPerSecond);
        var buffer = new byte[64 * 1024];
        string? stopped = null;
        var start = time.GetTimestamp();
        await using (var writers = new SubgroupWriters(publisher))
        {
            try
            {
                if (publisher.OpensSubgroupsEarly)
                {
                    // The first group's subgroups too, and its first object a frame (at least 100 ms) later: even the
                    // first key object then finds its streams mapped by a fast-path relay.
                    for (var n = 0UL; n < (ulong)track.Options.GopFrames; n++)
                        if (track.At(n) is { OpensSubgroup: true } first)
                            await writers.OpenAheadAsync(first.GroupId, first.SubgroupId, first.Priority, cancellationToken);
                    start = time.GetTimestamp() + (long)(time.TimestampFrequency * Math.Max(0.1, 1 / track.Options.FramesPerSecond));
                }
                foreach (var planned in track.Objects())
                {
                    // A publisher that is behind never waits, so cancellation is checked here, not only in the delay.
                    if (cancellationToken.IsCancellationRequested || limits.Reached(time.GetElapsedTime(start), stats.Objects)) break;
                    var wait = TimeSpan.FromTicks(planned.DueMicroseconds * 10) - time.GetElapsedTime(start);
                    if (limits.Duration is { } d && time.GetElapsedTime(start) + wait >= d) break; // due after the end
                    if (wait > TimeSpan.Zero) await Task.Delay(wait, time, cancellationToken);

                    if (buffer.Length < planned.Size) buffer = new byte[Math.Max(planned.Size, buffer.Length * 2)];
                    var payload = buffer.AsMemory(0, planned.Size);
                    var lag = (long)time.GetElapsedTime(start).TotalMicroseconds - planned.DueMicroseconds;
                    SyntheticPayload.Write(payload.Span, planned, RealtimeClock.NowMicroseconds(time));
                    await writers.WriteAsync(planned.GroupId, planned.SubgroupId, planned.Priority, planned.ObjectId, payload,
                        planned.OpensSubgroup, planned.ClosesSubgroup, cancellationToken);
                    stats.Sent(planned.GroupId, planned.Priority, planned.Size, planned.IsKey, Math.Max(0, lag), frameMicroseconds);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Ctrl+C: report what was sent.
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                stopped = e.Message;
            }
            return stats.Report(url, trackText, "synthetic", time.GetElapsedTime(start), writers.Opened, stopped);
        }
    }
}
