using System.Net;

namespace FastRelay.Relay;

/// <summary>
/// Where a <see cref="RelayHost"/> puts its channels and subscribers: the kernel's maps (<see cref="FastPathTables"/>)
/// or this process's own copy loop (<see cref="UserspaceFanOut"/>, for machines without eBPF). The host's diffing,
/// slot allocation and reload logic is the same for both, and so is a protocol's own control plane that drives a plane
/// directly (the custom-UDP relay). A plane that also keeps upstream packets implements <see cref="IUpstreamHistory"/>.
/// </summary>
public interface IFanOutPlane
{
    /// <summary>"fastpath" or "userspace".</summary>
    string Mode { get; }

    void SetChannel(ulong channel, IPEndPoint? upstream, IReadOnlyList<int> slots);
    bool DeleteChannel(ulong channel);
    void Activate(KernelSubscriber subscriber);
    void Deactivate(int slot);
    void SetStream(int slot, ulong upstreamStream, ulong downstreamStream);
    bool DeleteStream(int slot, ulong upstreamStream);
    void SetBudget(int slot, long bytes, uint reservePerLevel, uint dropFromLevel, bool enabled = true);
    void RefillBudget(int slot, long bytes, long burst, uint reservePerLevel, uint dropFromLevel);
    KernelSubscriberCounters Counters(int slot);

    /// <summary>The packet number the slot's next copy gets (renumbering protocols): nothing at or beyond it was sent yet.</summary>
    ulong NextNumber(int slot);

    /// <summary>An upstream datagram reached the relay's socket. The userspace plane fans it out here; the kernel already
    /// fanned out what it could (a plane may still send from the socket what the kernel could not).</summary>
    void OnUpstreamDatagram(ReadOnlySpan<byte> datagram, SocketAddress from);

    /// <summary>Plane-wide counters by name (fr_stats for the kernel).</summary>
    IReadOnlyDictionary<string, ulong> PlaneCounters();

    /// <summary>Called on every host tick (the kernel plane drains its registration ring).</summary>
    void Tick();
}
