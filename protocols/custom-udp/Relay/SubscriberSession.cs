using System.Net;

namespace FastRelay.Protocols.CustomUdp.Relay;

/// <summary>One accepted subscriber: its slot in the kernel maps (or the userspace plane), what it asked for, and
/// what the relay did for it.</summary>
public sealed class SubscriberSession(int slot, IPEndPoint endpoint, SocketAddressKey key, ushort channel, SequenceMap sequences,
    RepairBudget repairBudget, ulong secret)
{
    /// <summary>How the relay host holds it (the same record on every plan the relay applies, so the host never rebinds it).</summary>
    public required FastRelay.Relay.SubscriberPlan Plan { get; init; }

    /// <summary>Sent in the REPLY that accepted it; its FEEDBACK, NACK and UNSUBSCRIBE must carry it (<see cref="SessionSecret"/>).</summary>
    public ulong Secret { get; } = secret;
    public int Slot { get; } = slot;
    public IPEndPoint Endpoint { get; } = endpoint;
    public SocketAddressKey Key { get; } = key;
    public ushort Channel { get; } = channel;
    public SequenceMap Sequences { get; } = sequences;
    /// <summary>Repair bytes it may still get (the repair worker's only).</summary>
    public RepairBudget RepairBudget { get; } = repairBudget;
    /// <summary>Repairs not sent because the budget was spent.</summary>
    public ulong RepairsOverBudget { get; set; }
    public long LastHeardNs { get; set; }
    public uint RateBytesPerSecond { get; set; }
    /// <summary>The plane has been told this subscriber is unlimited: nothing to refill until its rate changes.</summary>
    public bool UnlimitedBudgetSet { get; set; }
    /// <summary>When a FEEDBACK is answered with a sign of life (the channel is quiet).</summary>
    public required IdleKeepalive Keepalive { get; init; }
    public ulong Repaired { get; set; }
    public ulong NackedSequences { get; set; }
}

/// <summary>An endpoint as a dictionary key (IPv4 and IPv4-mapped IPv6 are the same key).</summary>
public readonly record struct SocketAddressKey(UInt128 Address, int Port)
{
    public static SocketAddressKey From(IPEndPoint endpoint)
    {
        var address = endpoint.Address.IsIPv4MappedToIPv6 || endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? endpoint.Address
            : endpoint.Address.MapToIPv6();
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        return new SocketAddressKey(System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(bytes), endpoint.Port);
    }
}
