using System.Net;

namespace FastRelay.Tests.Packets.Fixtures;

/// <summary>TC verdicts as the kernel returns them through BPF_PROG_TEST_RUN (the product's constants, which `fastrelay fuzz
/// bpf`'s reference model uses too).</summary>
public static class TcAct
{
    public const int Unspec = FastRelay.Cli.Fuzz.Model.TcVerdict.Unspec;
    public const int Ok = FastRelay.Cli.Fuzz.Model.TcVerdict.Ok;
    public const int Shot = FastRelay.Cli.Fuzz.Model.TcVerdict.Shot;
}

/// <summary>Which of the descriptor's match rules a header satisfies.</summary>
public enum PacketKind
{
    /// <summary>Every constraint holds: eligible for the fast path.</summary>
    FastPath,
    /// <summary>The connection-scope constraints hold, a fast-path one does not (a control message).</summary>
    Control,
    /// <summary>Not even the connection-scope constraints hold (wrong magic / version).</summary>
    Foreign,
}

/// <summary>Protocol-neutral header values; each protocol encodes them at its own offsets, widths and byte orders.</summary>
public sealed record HeaderFields
{
    public PacketKind Kind { get; init; } = PacketKind.FastPath;
    public uint Channel { get; init; } = 7;
    public ulong PacketNumber { get; init; } = 0x51;
    public ulong StreamId { get; init; } = 4;
    /// <summary>0 = most urgent, whatever way the protocol encodes its priority.</summary>
    public uint Urgency { get; init; }
}

/// <summary>A subscriber slot as the test configures it (mapped onto the generated <c>Subscriber</c> struct).</summary>
public sealed record SubscriberSpec
{
    public bool Active { get; init; } = true;
    public uint IfIndex { get; init; } = 1;
    /// <summary>The channel the slot is subscribed to: egress drops a copy of any other channel.</summary>
    public uint Channel { get; init; } = 7;
    public byte[] MacSource { get; init; } = [0x02, 0xAA, 0, 0, 0, 0x01];
    public byte[] MacDestination { get; init; } = [0x02, 0xBB, 0, 0, 0, 0x01];
    /// <summary>The relay's endpoint towards the subscriber (becomes the copies' source).</summary>
    public required IPEndPoint Local { get; init; }
    /// <summary>The subscriber's endpoint (becomes the copies' destination).</summary>
    public required IPEndPoint Remote { get; init; }
    /// <summary>The connection id the subscriber expects (ignored by protocols without one).</summary>
    public byte[] ConnectionId { get; init; } = [];
}

/// <summary>A channel: its upstream (null = any source) and the slots it fans out to.</summary>
public sealed record ChannelSpec
{
    public IPEndPoint? Upstream { get; init; }
    public uint[] Slots { get; init; } = [];
    /// <summary>Writes junk into the unused address bytes of an IPv4 upstream (the kernel must compare 4 bytes only).</summary>
    public bool JunkAfterIpv4Address { get; init; }
}

public sealed record BudgetSpec(long Bytes, bool Enabled, uint ReservePerLevel, uint DropFromLevel);

/// <summary>Mirror of the generated <c>Stats</c> (summed over CPUs); property names equal the generated field names.</summary>
public sealed record RelayStats
{
    public ulong UpstreamSeen { get; init; }
    public ulong UpstreamMatched { get; init; }
    public ulong UpstreamNotMatched { get; init; }
    public ulong UpstreamTruncated { get; init; }
    public ulong UpstreamNoChannel { get; init; }
    public ulong UpstreamForeignSource { get; init; }
    public ulong Clones { get; init; }
    public ulong CloneErrors { get; init; }
    public ulong EgressRewritten { get; init; }
    public ulong EgressUserspaceNumbered { get; init; }
    public ulong EgressDroppedBudget { get; init; }
    public ulong EgressDroppedInactive { get; init; }
    public ulong EgressDroppedNoStream { get; init; }
    public ulong EgressFamilyMismatch { get; init; }
    public ulong EgressWrongChannel { get; init; }
    public ulong EgressUserspaceDropped { get; init; }
    public ulong SubscriberIngressSeen { get; init; }
    public ulong SubscriberIngressUnknown { get; init; }
    public ulong EventsLost { get; init; }
    public ulong EgressBeforeForwardFrom { get; init; }
    public ulong EgressNotForwarded { get; init; }
    public ulong EgressFamilyTranslated { get; init; }
    public ulong EgressFamilyTooBig { get; init; }
    public ulong CloneNoEgressProgram { get; init; }
    public ulong EgressWrongDevice { get; init; }
}

/// <summary>Mirror of the generated <c>SubscriberStats</c>; property names equal the generated field names.</summary>
public sealed record SubscriberCounters
{
    public ulong ForwardedPackets { get; init; }
    public ulong ForwardedBytes { get; init; }
    public ulong UserspacePackets { get; init; }
    public ulong DroppedBudget { get; init; }
    public ulong DroppedNoStream { get; init; }
    public ulong DroppedInactive { get; init; }
    public ulong ReceivedPackets { get; init; }
    public ulong ReceivedBytes { get; init; }
    public ulong LastReceivedNs { get; init; }
}

/// <summary>A decoded registration (from the generated <c>EventReader</c>); stream ids are 0 for protocols without one, the
/// stream data members (offset, data length, FIN, reason) 0 for protocols without a stream offset.</summary>
public sealed record RegistrationView(ulong TimestampNs, ulong PacketNumber, ulong UpstreamPacketNumber, ulong StreamId,
    ulong UpstreamStreamId, uint Slot, uint Length, byte Origin, byte Urgency,
    ulong StreamOffset = 0, uint DataLength = 0, byte Fin = 0, byte Reason = 0)
{
    public const byte Forwarded = 1;
    public const byte Userspace = 2;
    public const byte NotForwarded = 3;
}
