namespace FastRelay.Protocols.Moq.Clients;

/// <summary>How <see cref="InputPublisher"/> maps input chunks onto the track.</summary>
public sealed record InputPublishOptions
{
    public required InputFraming Framing { get; init; }
    /// <summary>A new group every this many objects (object ids count from 0 in each group; object 0 is the key).</summary>
    public int ObjectsPerGroup { get; init; } = 1;
    /// <summary>Publisher priority of every subgroup (one subgroup per group: the chunks of a group depend on each other).</summary>
    public byte Priority { get; init; } = 64;
    /// <summary>Prefix each chunk with the <see cref="ObjectPayloadHeader"/> so a subscriber can verify and time it (a
    /// player reading the objects would then have to strip it).</summary>
    public bool Stamp { get; init; }
    /// <summary>Send at most this many objects per second (null: as fast as the input arrives; a live ffmpeg with -re
    /// paces itself).</summary>
    public double? ObjectsPerSecond { get; init; }
    public ulong FirstGroup { get; init; }
}

/// <summary>Publishes objects read from a file or stdin, cut by an <see cref="InputFraming"/>, as they arrive.</summary>
public static class InputPublisher
{
    public static async Task<MoqPublisherReport> RunAsync(IMoqTrackPublisher publisher, Stream input, InputPublishOptions options,
        PublishLimits limits, string url, string trackText, TimeProvider time, CancellationToken cancellationToken)
    {
        if (options.ObjectsPerGroup < 1) throw new ArgumentException("--gop must be ≥ 1");
        var stats = new PublishStats();
        var perGroup = (ulong)options.ObjectsPerGroup;
        var interval = options.ObjectsPerSecond is { } rate ? 1_000_000 / rate : 0;
        string? stopped = null;
        var start = time.GetTimestamp();
        await using (var writers = new SubgroupWriters(publisher))
        {
            try
            {
                // A fast-path publisher opens the first group's subgroup before the first input arrives (see SubgroupWriters).
                if (publisher.OpensSubgroupsEarly) await writers.OpenAheadAsync(options.FirstGroup, 0, options.Priority, cancellationToken);
                ulong sequence = 0;
                await foreach (var chunk in options.Framing.ReadObjectsAsync(input, cancellationToken))
                {
                    // A publisher that is behind never waits, so cancellation is checked here, not only in the delay.
                    if (cancellationToken.IsCancellationRequested || limits.Reached(time.GetElapsedTime(start), stats.Objects)) break;
                    var due = (long)(sequence * interval);
                    var wait = TimeSpan.FromTicks(due * 10) - time.GetElapsedTime(start);
                    if (wait > TimeSpan.Zero) await Task.Delay(wait, time, cancellationToken);

                    var group = options.FirstGroup + sequence / perGroup;
                    var objectId = sequence % perGroup;
                    var isKey = objectId == 0;
                    var payload = options.Stamp
                        ? SyntheticPayload.Stamp(chunk, sequence, group, objectId, isKey, RealtimeClock.NowMicroseconds(time))
                        : chunk;
                    await writers.WriteAsync(group, 0, options.Priority, objectId, payload, opens: objectId == 0, closes: objectId == perGroup - 1, cancellationToken);
                    var lag = interval > 0 ? Math.Max(0, (long)time.GetElapsedTime(start).TotalMicroseconds - due) : 0;
                    stats.Sent(group, options.Priority, payload.Length, isKey, lag, interval > 0 ? (long)interval : long.MaxValue);
                    sequence++;
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
            catch (InvalidDataException)
            {
                throw; // the input is wrong, not the session: the caller reports it as a user error
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                stopped = e.Message;
            }
            return stats.Report(url, trackText, $"input:{options.Framing}{(options.Stamp ? "+stamp" : "")}", time.GetElapsedTime(start), writers.Opened, stopped);
        }
    }
}
