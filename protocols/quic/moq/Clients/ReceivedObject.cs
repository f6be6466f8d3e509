namespace FastRelay.Protocols.Moq.Clients;

/// <summary>One object as a subscriber received it: its MoQ location, how it came, its payload and when it arrived.</summary>
/// <param name="ReceivedAtMicroseconds">CLOCK_REALTIME µs when the last byte of the object was read.</param>
/// <param name="ViaFetch">Delivered on a FETCH stream (joining fetch) rather than the subscription.</param>
public readonly record struct ReceivedObject(
    ulong GroupId,
    ulong SubgroupId,
    ulong ObjectId,
    byte PublisherPriority,
    ReadOnlyMemory<byte> Payload,
    long ReceivedAtMicroseconds,
    bool ViaFetch = false);
