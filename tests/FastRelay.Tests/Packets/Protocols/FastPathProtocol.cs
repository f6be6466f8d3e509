using FastRelay.Bpf;
using FastRelay.Generated;
using FastRelay.Tests.Packets.Fixtures;

namespace FastRelay.Tests.Packets.Protocols;

/// <summary>
/// One protocol under test: how its header looks on the wire (written here from the descriptor's documentation, not
/// from the generator's output) and how its maps are configured (through the generated typed accessors only).
/// </summary>
public abstract class FastPathProtocol
{
    public abstract GeneratedProtocol Generated { get; }
    public string Name => Generated.Name;
    public ushort UdpPort => (ushort)Generated.UdpPort;
    public int MaxSubscribers => Generated.MaxSubscribers;
    public abstract int HeaderLength { get; }
    public abstract uint MarkMagic { get; }
    public abstract int UrgencyLevels { get; }
    public abstract int ConnectionIdLength { get; }
    public abstract bool TranslatesStreams { get; }
    /// <summary>Bytes of the packet number on the wire (the kernel counter is 64-bit; the wire keeps the low bytes).</summary>
    public abstract int PacketNumberBytes { get; }
    /// <summary>Bytes egress reads to number a stack packet: up to the end of the packet number and the connection-scope
    /// matches (FR_CONN_HEADER_LEN). A stack packet shorter than the fast-path header (a QUIC ACK) is numbered too.</summary>
    public abstract int NumberingLength { get; }

    /// <summary>Exactly <see cref="HeaderLength"/> bytes.</summary>
    public abstract byte[] Header(HeaderFields fields);

    /// <summary>The kind of packet the relay's own stack sends on a subscriber connection and the kernel numbers:
    /// a non-fast-path connection packet (QUIC ACK, tick control) where the protocol has one, else fast-path data
    /// (custom_udp numbers DATA only).</summary>
    public virtual PacketKind StackPacketKind => PacketKind.Control;

    public abstract void WritePacketNumber(Span<byte> header, ulong packetNumber);
    public abstract ulong ReadPacketNumber(ReadOnlySpan<byte> header);
    public virtual void WriteStreamId(Span<byte> header, ulong streamId) =>
        throw new NotSupportedException($"{Name} has no stream id");
    public virtual void WriteConnectionId(Span<byte> header, ReadOnlySpan<byte> connectionId) =>
        throw new NotSupportedException($"{Name} has no connection id");

    /// <summary>A connection id for a subscriber slot, distinct per slot and from the upstream's.</summary>
    public byte[] ConnectionIdFor(uint slot) =>
        Enumerable.Range(0, ConnectionIdLength).Select(i => (byte)(0xC0 + slot * 16 + i)).ToArray();

    /// <summary>The header a subscriber should receive: connection id, packet number and stream id replaced.</summary>
    public byte[] RewrittenHeader(ReadOnlySpan<byte> header, ReadOnlySpan<byte> connectionId, ulong packetNumber, ulong? streamId)
    {
        var h = header.ToArray();
        if (ConnectionIdLength > 0)
            WriteConnectionId(h, connectionId);
        WritePacketNumber(h, packetNumber);
        if (streamId is { } sid)
            WriteStreamId(h, sid);
        return h;
    }

    /// <summary>Opens the generated typed accessors on a loaded object.</summary>
    public abstract MapBinding Bind(BpfObject obj);

    public override string ToString() => Name;
}

/// <summary>The test's protocol-neutral view of the generated <c>Maps</c> accessor class.</summary>
public abstract class MapBinding
{
    public abstract BpfMap Events { get; }
    public abstract void SetRelayPort(ushort port);
    /// <summary>Sets FR_CONFIG_REGISTER_RUNS: only breaks in a subscriber's numbering are registered.</summary>
    public abstract void RegisterRuns();
    /// <summary>Sets FR_CONFIG_TRANSLATE_FAMILY: copies for subscribers of the other IP family are translated.</summary>
    public abstract void TranslateFamilies();
    /// <summary>Writes this instance's clone tag (fr_config.clone_mark, in the FR_MARK_MAGIC_MASK bits).</summary>
    public abstract void SetCloneMark(uint mark);
    public abstract void SetSubscriber(uint slot, SubscriberSpec subscriber);
    public abstract byte[] SubscriberBytes(uint slot);
    public abstract void MapEndpoint(System.Net.IPEndPoint endpoint, uint slot);
    public abstract void SetNextPacketNumber(uint slot, ulong next);
    public abstract ulong NextPacketNumber(uint slot);
    public abstract void SetBudget(uint slot, BudgetSpec budget);
    public abstract BudgetSpec Budget(uint slot);
    public abstract void SetChannel(uint id, ChannelSpec channel);
    public abstract uint ChannelRotation(uint id);
    public virtual void SetStream(uint slot, ulong upstreamStreamId, ulong streamId) =>
        throw new NotSupportedException("no stream translation");
    public abstract RelayStats Stats();
    public abstract SubscriberCounters SubscriberStats(uint slot);
    public abstract RegistrationView Decode(ReadOnlySpan<byte> record);
}
