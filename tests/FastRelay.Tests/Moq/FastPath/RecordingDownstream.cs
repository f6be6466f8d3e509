using System.Collections.Concurrent;
using FastRelay.Protocols.Moq.Relay.FastPath;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>
/// Records what the kernel plane's event pump delivers for one slot, in order. Not a stand-in for the kernel: the
/// events come from the real TC programs; this only replaces the QUIC connection they would be fed into, so the test
/// can check the pump routes each event, with its fields, to the right slot.
/// </summary>
internal sealed class RecordingDownstream : IFastPathDownstream
{
    public sealed record Numbered(ulong Local, ulong Wire);
    public sealed record Forwarded(ulong Wire, int PacketBytes, ulong StreamId, ulong Offset, ulong Length, bool Fin);
    public sealed record NotForwarded(ulong StreamId, ulong Offset, ulong Length, bool Fin);

    public ConcurrentQueue<object> Events { get; } = new();

    public IReadOnlyList<T> Of<T>() => Events.OfType<T>().ToList();

    public void OnNumbered(ulong local, ulong wire, long timeNs) => Events.Enqueue(new Numbered(local, wire));

    public void OnForwarded(ulong wire, long timeNs, int packetBytes, ulong streamId, ulong offset, ulong length, bool fin)
    {
        // Kernel timestamps are CLOCK_MONOTONIC ns, the clock of Stopwatch on Linux: one from the future is a unit bug.
        if (timeNs <= 0 || timeNs > System.Diagnostics.Stopwatch.GetTimestamp())
            throw new InvalidOperationException($"timestamp {timeNs} is not a past CLOCK_MONOTONIC time");
        Events.Enqueue(new Forwarded(wire, packetBytes, streamId, offset, length, fin));
    }

    public void OnNotForwarded(ulong streamId, ulong offset, ulong length, bool fin) => Events.Enqueue(new NotForwarded(streamId, offset, length, fin));

    /// <summary>For each end of a batch the pump announced: how many events this sink had by then.</summary>
    public ConcurrentQueue<int> BatchEnds { get; } = new();

    public void OnBatchEnd() => BatchEnds.Enqueue(Events.Count);
}
