namespace FastRelay.Protocols.Moq.Clients;

/// <summary>One object of a synthetic track: where it goes, how big it is and when it is due.</summary>
/// <param name="TrackSequence">0, 1, 2, … over the whole track.</param>
/// <param name="DueMicroseconds">When to send it, µs after the track started (frame n: n / fps).</param>
/// <param name="OpensSubgroup">The first object of its subgroup in this group (open the subgroup stream).</param>
/// <param name="ClosesSubgroup">The last object of its subgroup in this group (end the subgroup stream after it).</param>
public readonly record struct PlannedObject(
    ulong TrackSequence,
    ulong GroupId,
    ulong SubgroupId,
    ulong ObjectId,
    byte Priority,
    int Size,
    bool IsKey,
    long DueMicroseconds,
    bool OpensSubgroup,
    bool ClosesSubgroup);
