using FastRelay.Protocols.Moq.Wire;
using System.Collections.Concurrent;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;

namespace FastRelay.Tests.Moq.Relay.Fakes;

/// <summary>
/// A downstream subscription's port in memory: records every subgroup stream the relay opens, what was written on it
/// and how it ended. <see cref="Gate"/> (when set) holds every write until it is released: a subscriber whose
/// transport accepts nothing, as under congestion.
/// </summary>
internal sealed class FakeDownstreamPort : IDownstreamTrackPort
{
    public ConcurrentQueue<FakeSubgroupWriter> Subgroups { get; } = new();
    public ConcurrentQueue<RelayObject> Datagrams { get; } = new();
    public TaskCompletionSource<MoqPublishDoneCode> Finished { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public TaskCompletionSource? Gate { get; set; }

    /// <summary>False: writers only count objects (for allocation measurements, where a growing list would be noise).</summary>
    public bool RecordObjects { get; set; } = true;

    public ValueTask<IDownstreamSubgroupWriter> OpenSubgroupAsync(ulong group, ulong subgroup, byte publisherPriority, int sendPriority, bool firstObject, CancellationToken cancellationToken)
    {
        var writer = new FakeSubgroupWriter(this, group, subgroup, publisherPriority) { SendPriority = sendPriority, FirstObject = firstObject };
        Subgroups.Enqueue(writer);
        return ValueTask.FromResult<IDownstreamSubgroupWriter>(writer);
    }

    public bool TrySendDatagram(in RelayObject obj)
    {
        Datagrams.Enqueue(obj);
        return true;
    }

    public void Finish(MoqPublishDoneCode statusCode, string reason) => Finished.TrySetResult(statusCode);

    /// <summary>Every object written on any subgroup stream, in write order per stream, streams in open order.</summary>
    public List<RelayObject> AllObjects() => Subgroups.SelectMany(s => s.Objects).ToList();

    /// <summary>Waits (polling: writes run on drain tasks) until <paramref name="condition"/> holds.</summary>
    public async Task WaitUntil(Func<FakeDownstreamPort, bool> condition, int timeoutMs = 5000)
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        while (!condition(this))
        {
            if (Environment.TickCount64 > deadline)
                throw new TimeoutException("condition not reached; objects: " + AllObjects().Count);
            await Task.Delay(5);
        }
    }
}

internal sealed class FakeSubgroupWriter(FakeDownstreamPort port, ulong group, ulong subgroup, byte publisherPriority) : IDownstreamSubgroupWriter
{
    private readonly List<RelayObject> _objects = [];

    public int Written;

    public ulong Group { get; } = group;
    public ulong Subgroup { get; } = subgroup;
    public byte PublisherPriority { get; } = publisherPriority;
    public int SendPriority { get; set; }
    /// <summary>The FIRST_OBJECT bit the relay asked for in the header.</summary>
    public bool FirstObject { get; init; }
    public bool Completed { get; private set; }
    public MoqStreamResetCode? ResetCode { get; private set; }

    public List<RelayObject> Objects
    {
        get { lock (_objects) return _objects.ToList(); }
    }

    public async ValueTask WriteAsync(RelayObject obj, CancellationToken cancellationToken)
    {
        if (port.Gate is { } gate) await gate.Task.WaitAsync(cancellationToken);
        if (ResetCode is not null) throw new InvalidOperationException("write after reset");
        if (Completed) throw new InvalidOperationException("write after FIN");
        Written++;
        if (port.RecordObjects)
            lock (_objects) _objects.Add(obj);
    }

    public void Complete()
    {
        if (ResetCode is null) Completed = true;
    }

    public void Reset(MoqStreamResetCode code) => ResetCode ??= code;
}
