using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;
using FastRelay.Bpf;
using FastRelay.Generated;
using FastRelay.Tests.Packets.Fixtures;
using Xunit;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.Packets.Protocols;

/// <summary>
/// quic_moq (protocols/quic/QuicMoqHeader.cs, docs/quic-fast-path.md), written here from the contract, not from the
/// generator: short header byte 0 (mask 0xDB = 0x43), 8-byte destination connection id at 1..8, packet number 9..12 BE,
/// STREAM frame type 0x0C / 0x0D (FIN) at 13, stream id 14..21 and offset 22..29 as 8-byte QUIC varints (prefix 0b11),
/// stream data from 30 to the end of the datagram.
/// <para>The channel is not in the packet: the shared suites' channel becomes the upstream connection id
/// (<see cref="UpstreamConnectionId"/>), and this binding plays the relay's userspace that assigns each (upstream
/// connection id, upstream stream) it maps to the channel of the subscriber it maps it for, with unlimited credit and a
/// mapping that forwards the whole stream unmoved. The QUIC-specific behaviour (offsets, forward-from, limits, credit,
/// FIN, not-forwarded events) is tested in QuicFastPathTests.</para>
/// </summary>
public sealed class QuicMoqProtocol : FastPathProtocol
{
    public static QuicMoqProtocol Instance { get; } = new();

    public const int DataOffset = 30;
    public const ulong MaxVarint = (1UL << 62) - 1;

    public override GeneratedProtocol Generated => G.Protocol;
    public override int HeaderLength => DataOffset;
    public override uint MarkMagic => G.MarkMagic;
    public override int UrgencyLevels => 256;
    public override int ConnectionIdLength => 8;
    public override bool TranslatesStreams => true;
    public override int PacketNumberBytes => 4;
    public override int NumberingLength => 13;

    /// <summary>The upstream connection's destination connection id the shared suites use for a channel.</summary>
    public static byte[] UpstreamConnectionId(uint channel)
    {
        var cid = new byte[8];
        cid[0] = 0xA0;
        cid[1] = 0xA1;
        BinaryPrimitives.WriteUInt32BigEndian(cid.AsSpan(2), channel);
        cid[6] = 0x9B;
        cid[7] = 0x9C;
        return cid;
    }

    public override byte[] Header(HeaderFields f) => Packet(UpstreamConnectionId(f.Channel), (uint)f.PacketNumber, f.StreamId, 0, [],
        fin: false, frameType: f.Kind == PacketKind.Control ? (byte)0x02 /* ACK */ : null, firstByte: f.Kind == PacketKind.Foreign ? (byte)0xC3 : (byte)0x47);

    /// <summary>A fast-path packet payload as our publisher sends it (0x47: fixed bit and key phase set, which the match
    /// ignores; 0xC3 would be a long header).</summary>
    public static byte[] Packet(ReadOnlySpan<byte> dcid, uint packetNumber, ulong streamId, ulong offset, ReadOnlySpan<byte> data,
        bool fin, byte? frameType = null, byte firstByte = 0x47)
    {
        var p = new byte[DataOffset + data.Length];
        p[0] = firstByte;
        dcid[..8].CopyTo(p.AsSpan(1));
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(9), packetNumber);
        p[13] = frameType ?? (byte)(fin ? 0x0D : 0x0C); // STREAM, OFF set, LEN clear
        WriteVarint8(p.AsSpan(14), streamId);
        WriteVarint8(p.AsSpan(22), offset);
        data.CopyTo(p.AsSpan(DataOffset));
        return p;
    }

    public static void WriteVarint8(Span<byte> at, ulong value) =>
        BinaryPrimitives.WriteUInt64BigEndian(at, 0xC000_0000_0000_0000UL | (value & MaxVarint));

    public override void WritePacketNumber(Span<byte> h, ulong pn) => BinaryPrimitives.WriteUInt32BigEndian(h[9..], (uint)pn);
    public override ulong ReadPacketNumber(ReadOnlySpan<byte> h) => BinaryPrimitives.ReadUInt32BigEndian(h[9..]);
    public override void WriteStreamId(Span<byte> h, ulong sid) => WriteVarint8(h[14..], sid);
    public override void WriteConnectionId(Span<byte> h, ReadOnlySpan<byte> cid) => cid[..8].CopyTo(h[1..]);

    public override MapBinding Bind(BpfObject obj) => new Binding(new G.Maps(obj));

    /// <summary>The generated typed maps behind a binding made by <see cref="Bind"/>.</summary>
    public static G.Maps Typed(MapBinding binding) => ((Binding)binding).Maps;

    private sealed class Binding(G.Maps maps) : MapBinding
    {
        private const ulong DefaultStream = 4; // HeaderFields.StreamId's default
        private readonly Dictionary<uint, uint> _channelOfSlot = [];

        public G.Maps Maps => maps;

        public override BpfMap Events => maps.Events;

        public override void SetRelayPort(ushort port) => maps.Config.Update(0u, new G.Config { UdpPort = port });

        public override void SetCloneMark(uint mark)
        {
            var config = maps.Config.Lookup(0u);
            config.CloneMark = mark;
            maps.Config.Update(0u, config);
        }

        public override void RegisterRuns()
        {
            var config = maps.Config.Lookup(0u);
            config.Flags |= G.ConfigRegisterRuns;
            maps.Config.Update(0u, config);
        }

        public override void TranslateFamilies()
        {
            var config = maps.Config.Lookup(0u);
            config.Flags |= G.ConfigTranslateFamily;
            maps.Config.Update(0u, config);
        }

        public override void SetSubscriber(uint slot, SubscriberSpec s)
        {
            var sub = new G.Subscriber { Active = s.Active ? 1u : 0u, IfIndex = s.IfIndex, Channel = new G.ChannelKey { Id = s.Channel }, Local = Ep(s.Local), Remote = Ep(s.Remote) };
            s.MacSource.CopyTo(sub.MacSource);
            s.MacDestination.CopyTo(sub.MacDestination);
            s.ConnectionId.CopyTo(sub.ConnectionId);
            maps.Subscribers.Update(slot, sub);
            maps.CreditLimits.Update(slot, ulong.MaxValue);
            maps.CreditUsed.Update(slot, 0);
            _channelOfSlot[slot] = s.Channel;
            AssignChannel(s.Channel, DefaultStream);
        }

        public override byte[] SubscriberBytes(uint slot)
        {
            var sub = maps.Subscribers.Lookup(slot);
            return MemoryMarshal.AsBytes(new ReadOnlySpan<G.Subscriber>(in sub)).ToArray();
        }

        public override void MapEndpoint(IPEndPoint endpoint, uint slot) => maps.SubscribersByEndpoint.Update(Ep(endpoint), slot);
        public override void SetNextPacketNumber(uint slot, ulong next) => maps.NextPacketNumbers.Update(slot, next);
        public override ulong NextPacketNumber(uint slot) => maps.NextPacketNumbers.Lookup(slot);

        public override void SetBudget(uint slot, BudgetSpec b) => maps.Budgets.Update(slot, new G.Budget
        {
            Bytes = b.Bytes, Enabled = b.Enabled ? 1u : 0u, ReservePerLevel = b.ReservePerLevel, DropFromLevel = b.DropFromLevel,
        });

        public override BudgetSpec Budget(uint slot)
        {
            var b = maps.Budgets.Lookup(slot);
            return new BudgetSpec(b.Bytes, b.Enabled != 0, b.ReservePerLevel, b.DropFromLevel);
        }

        public override void SetChannel(uint id, ChannelSpec c)
        {
            var ch = new G.Channel { Count = (uint)c.Slots.Length };
            if (c.Upstream is { } up)
                ch.Upstream = Ep(up, c.JunkAfterIpv4Address);
            c.Slots.CopyTo(ch.Slots);
            maps.Channels.Update(new G.ChannelKey { Id = id }, ch);
            AssignChannel(id, DefaultStream);
        }

        public override uint ChannelRotation(uint id) => maps.Channels.Lookup(new G.ChannelKey { Id = id }).Rotation;

        public override void SetStream(uint slot, ulong upstreamStreamId, ulong streamId)
        {
            maps.Streams.Update(new G.StreamKey { Slot = slot, UpstreamStreamId = upstreamStreamId },
                new G.StreamValue { StreamId = streamId, OffsetDelta = 0, ForwardFrom = 0, Limit = MaxVarint });
            if (_channelOfSlot.TryGetValue(slot, out var channel))
                AssignChannel(channel, upstreamStreamId);
        }

        /// <summary>What the relay does once it has read a stream's subgroup header: (connection, stream) → channel.</summary>
        private void AssignChannel(uint channel, ulong upstreamStreamId)
        {
            var key = new G.ChannelLookupKey { StreamId = upstreamStreamId };
            UpstreamConnectionId(channel).CopyTo(key.DestinationConnectionId);
            maps.ChannelLookup.Update(key, new G.ChannelKey { Id = channel });
        }

        public override RelayStats Stats() => StructMirror.Sum<G.Stats, RelayStats>(maps.Stats.LookupPerCpu(0u));
        public override SubscriberCounters SubscriberStats(uint slot) =>
            StructMirror.Sum<G.SubscriberStats, SubscriberCounters>([maps.SubscriberStats.Lookup(slot)]);

        public override RegistrationView Decode(ReadOnlySpan<byte> record)
        {
            Assert.Equal(G.EventReader.RecordSize, record.Length);
            var r = G.EventReader.Decode(record);
            return new RegistrationView(r.TimestampNs, r.PacketNumber, r.UpstreamPacketNumber, r.StreamId, r.UpstreamStreamId,
                r.Slot, r.Length, (byte)r.Origin, r.Urgency, r.StreamOffset, r.DataLength, r.Fin, (byte)r.Reason);
        }

        private static G.Endpoint Ep(IPEndPoint e, bool junk = false)
        {
            var ep = new G.Endpoint { Family = EndpointBytes.Family(e), Port = EndpointBytes.NetworkPort(e) };
            EndpointBytes.Address(e, junk).CopyTo(ep.Address);
            return ep;
        }
    }
}
