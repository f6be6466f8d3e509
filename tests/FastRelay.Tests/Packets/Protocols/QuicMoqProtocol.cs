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
/// quic_moq (protocols/quic/QuicMoqHeader.cs): short header byte 0 (mask 0xDB = 0x43), 8-byte destination connection
/// id at 1..8 whose byte 1 is the urgency and 2..5 the track (BE), packet number 9..12 BE, STREAM frame type at 13
/// (0x08..0x0f), stream id 14..21 as an 8-byte QUIC varint (prefix 0b11).
/// </summary>
public sealed class QuicMoqProtocol : FastPathProtocol
{
    public static QuicMoqProtocol Instance { get; } = new();

    public override GeneratedProtocol Generated => G.Protocol;
    public override int HeaderLength => 22;
    public override uint MarkMagic => G.MarkMagic;
    public override int UrgencyLevels => 256;
    public override int ConnectionIdLength => 8;
    public override bool TranslatesStreams => true;
    public override int PacketNumberBytes => 4;

    public override byte[] Header(HeaderFields f)
    {
        var h = new byte[22];
        // 0x47: fixed bit, key phase set (not part of the match mask), 4-byte packet number. 0xC3: a long header.
        h[0] = f.Kind == PacketKind.Foreign ? (byte)0xC3 : (byte)0x47;
        h[1] = (byte)f.Urgency;
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(2), f.Channel);
        h[6] = 0x9A; h[7] = 0x9B; h[8] = 0x9C;
        WritePacketNumber(h, f.PacketNumber);
        h[13] = f.Kind == PacketKind.Control ? (byte)0x02 /* ACK */ : (byte)0x0E; // STREAM with OFF and LEN
        WriteStreamId(h, f.StreamId);
        return h;
    }

    public override void WritePacketNumber(Span<byte> h, ulong pn) => BinaryPrimitives.WriteUInt32BigEndian(h[9..], (uint)pn);
    public override ulong ReadPacketNumber(ReadOnlySpan<byte> h) => BinaryPrimitives.ReadUInt32BigEndian(h[9..]);
    public override void WriteStreamId(Span<byte> h, ulong sid) =>
        BinaryPrimitives.WriteUInt64BigEndian(h[14..], 0xC000_0000_0000_0000UL | (sid & 0x3FFF_FFFF_FFFF_FFFFUL));
    public override void WriteConnectionId(Span<byte> h, ReadOnlySpan<byte> cid) => cid[..8].CopyTo(h[1..]);

    public override MapBinding Bind(BpfObject obj) => new Binding(new G.Maps(obj));

    private sealed class Binding(G.Maps maps) : MapBinding
    {
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

        public override void SetSubscriber(uint slot, SubscriberSpec s)
        {
            var sub = new G.Subscriber { Active = s.Active ? 1u : 0u, IfIndex = s.IfIndex, Channel = new G.ChannelKey { Id = s.Channel }, Local = Ep(s.Local), Remote = Ep(s.Remote) };
            s.MacSource.CopyTo(sub.MacSource);
            s.MacDestination.CopyTo(sub.MacDestination);
            s.ConnectionId.CopyTo(sub.ConnectionId);
            maps.Subscribers.Update(slot, sub);
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
        }

        public override uint ChannelRotation(uint id) => maps.Channels.Lookup(new G.ChannelKey { Id = id }).Rotation;

        public override void SetStream(uint slot, ulong upstreamStreamId, ulong streamId) =>
            maps.Streams.Update(new G.StreamKey { Slot = slot, UpstreamStreamId = upstreamStreamId }, new G.StreamValue { StreamId = streamId });

        public override RelayStats Stats() => StructMirror.Sum<G.Stats, RelayStats>(maps.Stats.LookupPerCpu(0u));
        public override SubscriberCounters SubscriberStats(uint slot) =>
            StructMirror.Sum<G.SubscriberStats, SubscriberCounters>([maps.SubscriberStats.Lookup(slot)]);

        public override RegistrationView Decode(ReadOnlySpan<byte> record)
        {
            Assert.Equal(G.EventReader.RecordSize, record.Length);
            var r = G.EventReader.Decode(record);
            return new RegistrationView(r.TimestampNs, r.PacketNumber, r.UpstreamPacketNumber, r.StreamId, r.UpstreamStreamId,
                r.Slot, r.Length, (byte)r.Origin, r.Urgency);
        }

        private static G.Endpoint Ep(IPEndPoint e, bool junk = false)
        {
            var ep = new G.Endpoint { Family = EndpointBytes.Family(e), Port = EndpointBytes.NetworkPort(e) };
            EndpointBytes.Address(e, junk).CopyTo(ep.Address);
            return ep;
        }
    }
}
