using System.Net;
using FastRelay.Protocols.CustomUdp.Wire;

namespace FastRelay.Protocols.CustomUdp.Relay;

/// <summary>
/// Where DATA copies are made: in the kernel (<see cref="KernelDataPlane"/>) or in this process
/// (<see cref="UserspaceDataPlane"/>). The relay core drives both the same way; only userspace decides who is active.
/// </summary>
public interface IDataPlane : IDisposable
{
    /// <summary>"fastpath" or "userspace", as reports print it.</summary>
    string Mode { get; }

    /// <summary>Sets a channel's upstream (null: none yet, nothing fans out) and its subscriber slots.</summary>
    void SetChannel(ushort channel, IPEndPoint? upstream, IReadOnlyList<int> slots);

    void Activate(int slot, SubscriberBinding binding);

    void Deactivate(int slot);

    void SetBudget(int slot, BudgetSetting budget);

    /// <summary>An upstream DATA packet reached the relay socket (on the fast path: the original the kernel passed up);
    /// <paramref name="header"/> is its header, already parsed by the relay core.</summary>
    void OnUpstreamData(in PacketHeader header, ReadOnlySpan<byte> packet);

    /// <summary>Copies a publisher packet the data plane keeps itself (the kernel cache); false when it has none.</summary>
    bool TryCopyCached(ushort channel, ulong publisherSequence, Span<byte> destination, out int length);

    /// <summary>Adds the publisher sequences the data plane keeps for the channel, received at or after
    /// <paramref name="sinceNs"/> (CLOCK_MONOTONIC), to <paramref name="into"/>.</summary>
    void AddCachedSince(ushort channel, long sinceNs, List<ulong> into);

    /// <summary>Forgets every packet the data plane keeps for the channel (a new publisher took it over: its sequence numbers
    /// may repeat the old one's, and a repair must never carry the old publisher's packet).</summary>
    void ForgetCached(ushort channel);

    /// <summary>Upstream packets of the channel the data plane handled without passing them up to the relay socket, and
    /// when the last one arrived (CLOCK_MONOTONIC ns, 0 = none).</summary>
    (ulong Packets, long LastNs) UpstreamConsumed(ushort channel);

    /// <summary>Counters for one slot since its activation.</summary>
    SubscriberCounters Counters(int slot);

    /// <summary>The sequence number the next DATA to this subscriber will get: nothing at or beyond it was sent yet.</summary>
    ulong NextSequence(int slot);

    /// <summary>Delivers pending registrations (subscriber sequence → publisher sequence) to the sink now. The relay core
    /// calls it at least every <see cref="CustomUdpRelay.RegistrationDrainInterval"/> and before it answers a NACK.</summary>
    void Flush();

    /// <summary>The kernel's relay-wide counters (snake_case names as in fr_stats, summed over CPUs) for metrics; none when
    /// the copies are made in this process.</summary>
    IReadOnlyList<KeyValuePair<string, ulong>> KernelCounters() => [];
}

/// <summary>How to reach an activated subscriber.</summary>
public sealed record SubscriberBinding(
    ushort Channel,
    IPEndPoint Remote,
    IPEndPoint Local,
    int IfIndex,
    byte[] SourceMac,
    byte[] DestinationMac);

/// <summary>A subscriber's byte budget for one refresh period (see docs/generated-header.md, priority drop).</summary>
public readonly record struct BudgetSetting(bool Enabled, long Bytes, uint ReservePerLevel, uint DropFromLevel);

public readonly record struct SubscriberCounters(ulong ForwardedPackets, ulong ForwardedBytes, ulong DroppedBudget, ulong ReceivedPackets);

/// <summary>Told which publisher packet went out under which subscriber sequence, so a NACK can be answered from the cache.</summary>
public interface IRegistrationSink
{
    /// <summary><paramref name="subscriberSequence"/> carried <paramref name="publisherSequence"/>, and the numbers after it
    /// continue that run (s + k carried p + k) until the slot's next registration.</summary>
    void OnSent(int slot, ulong subscriberSequence, ulong publisherSequence);

    /// <summary>Registrations were lost (the kernel's ring was full): every run known so far may have a break nobody
    /// reported, so none can be trusted to answer a NACK.</summary>
    void OnRegistrationsLost();
}
