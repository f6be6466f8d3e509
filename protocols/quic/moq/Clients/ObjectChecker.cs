namespace FastRelay.Protocols.Moq.Clients;

/// <summary>
/// The subscriber's bookkeeping, one object at a time, independent of any session (so it is tested on its own):
/// <list type="bullet">
/// <item>integrity: a stamped payload (<see cref="ObjectPayloadHeader"/>) must verify (length, checksum) and name the same
/// group and object id as the MoQ location it arrived under; unstamped payloads are counted, not judged;</item>
/// <item>duplicates: a track sequence number delivered twice;</item>
/// <item>order: inside one subgroup object ids must rise (the draft's rule for a subgroup stream: a violation is an
/// error); across subgroups, objects arriving after a later track sequence are "reordered" (normal with several
/// subgroup streams, reported for information);</item>
/// <item>gaps: track sequences between the first and the last received that never arrived, as a count and as runs;</item>
/// <item>latency: receive time − send time of every first delivery of a verified object, in µs.</item>
/// </list>
/// One writer.
/// </summary>
public sealed class ObjectChecker
{
    /// <summary>Subgroups remembered for the in-subgroup order check: older groups are forgotten so memory stays bounded.</summary>
    private const int GroupsRemembered = 8;

    private readonly SequenceSet _sequences = new();
    private readonly LatencyHistogram _latency = new();
    private readonly Dictionary<(ulong Group, ulong Subgroup), ulong> _lastObjectInSubgroup = [];
    private ulong _highestGroup;
    private ulong? _highestSequence;

    public long Objects { get; private set; }
    public long Bytes { get; private set; }
    public long KeyObjects { get; private set; }
    public long ViaFetch { get; private set; }
    public long Unstamped { get; private set; }
    /// <summary>Distinct stamped objects that verified (duplicates not included).</summary>
    public long Verified { get; private set; }
    public long ChecksumFailures { get; private set; }
    public long LengthFailures { get; private set; }
    public long LocationMismatches { get; private set; }
    public long Duplicates { get; private set; }
    public long Reordered { get; private set; }
    public long OutOfOrderInSubgroup { get; private set; }
    public long NegativeLatencies { get; private set; }
    public ulong? FirstGroup { get; private set; }
    public ulong? LastGroup { get; private set; }

    /// <summary>Objects whose bytes are not what was sent: checksum, length or location wrong.</summary>
    public long IntegrityFailures => ChecksumFailures + LengthFailures + LocationMismatches;

    public long MissingObjects => _sequences.MissingInRange;
    public long Gaps => _sequences.MissingRuns();
    public LatencyHistogram Latency => _latency;

    public ObjectVerdict Check(in ReceivedObject received)
    {
        Objects++;
        Bytes += received.Payload.Length;
        if (received.ViaFetch) ViaFetch++;
        FirstGroup ??= received.GroupId;
        LastGroup = LastGroup is { } last ? Math.Max(last, received.GroupId) : received.GroupId;
        CheckSubgroupOrder(received);

        var span = received.Payload.Span;
        switch (ObjectPayloadHeader.Verify(span, out var header))
        {
            case PayloadVerdict.NotStamped:
                Unstamped++;
                return ObjectVerdict.Unstamped;
            case PayloadVerdict.ChecksumMismatch:
                ChecksumFailures++;
                return ObjectVerdict.Corrupt;
            case PayloadVerdict.Truncated or PayloadVerdict.TooLong:
                LengthFailures++;
                return ObjectVerdict.Corrupt;
        }
        if (header.GroupId != received.GroupId || header.ObjectId != received.ObjectId)
        {
            LocationMismatches++;
            return ObjectVerdict.Corrupt;
        }
        if (!_sequences.Add(header.TrackSequence))
        {
            Duplicates++;
            return ObjectVerdict.Duplicate;
        }
        Verified++;
        if (header.IsKey) KeyObjects++;
        if (_highestSequence is { } highest && header.TrackSequence < highest) Reordered++;
        if (_highestSequence is null || header.TrackSequence > _highestSequence) _highestSequence = header.TrackSequence;

        var latency = received.ReceivedAtMicroseconds - header.SendTimeMicroseconds;
        if (latency >= 0) _latency.Record(latency);
        else NegativeLatencies++;
        return ObjectVerdict.Ok;
    }

    private void CheckSubgroupOrder(in ReceivedObject received)
    {
        if (received.ViaFetch) return; // a FETCH stream carries many subgroups in its own order
        var key = (received.GroupId, received.SubgroupId);
        if (_lastObjectInSubgroup.TryGetValue(key, out var lastObject) && received.ObjectId <= lastObject)
            OutOfOrderInSubgroup++;
        else
            _lastObjectInSubgroup[key] = received.ObjectId;
        if (received.GroupId > _highestGroup)
        {
            _highestGroup = received.GroupId;
            if (_highestGroup >= GroupsRemembered)
            {
                var horizon = _highestGroup - GroupsRemembered;
                foreach (var old in _lastObjectInSubgroup.Keys.Where(k => k.Group < horizon).ToList())
                    _lastObjectInSubgroup.Remove(old);
            }
        }
    }
}

/// <summary>What <see cref="ObjectChecker.Check"/> made of one object.</summary>
public enum ObjectVerdict
{
    Ok,
    Unstamped,
    Corrupt,
    Duplicate,
}
