using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;
using FastRelay.Bpf;
using FastRelay.Generated;
using FastRelay.Tests.Packets.Fixtures;
using Xunit;
using G = SampleProtocol.TickHeaderFastPath;

namespace FastRelay.Tests.Packets.Protocols;

/// <summary>
/// tick_feed (tests/SampleProtocol/TickHeader.cs), a descriptor outside the bundled profiles: magic 0xFEED little-endian
/// at 0..1, type at 2 (1 = tick), byte 3 priority in bits 4..6 (higher = more urgent) + flags, connection id 4..7,
/// channel 8..11 LE, stream id 12..13 BE (translated), reserved 14, sequence 15..22 LE (odd offset), reserved 23.
/// </summary>
public sealed class TickFeedProtocol : FastPathProtocol
{
    public static TickFeedProtocol Instance { get; } = new();

    public override GeneratedProtocol Generated => G.Protocol;
    public override int HeaderLength => 24;
    public override uint MarkMagic => G.MarkMagic;
    public override int UrgencyLevels => 8;
    public override int ConnectionIdLength => 4;
    public override bool TranslatesStreams => true;
    public override int PacketNumberBytes => 8;
    public override int NumberingLength => 23;

    public override byte[] Header(HeaderFields f)
    {
        var h = new byte[24];
        // Foreign: the magic in the wrong byte order.
        BinaryPrimitives.WriteUInt16LittleEndian(h, f.Kind == PacketKind.Foreign ? (ushort)0xEDFE : (ushort)0xFEED);
        h[2] = f.Kind == PacketKind.Control ? (byte)0x02 : (byte)0x01;
        h[3] = (byte)(0x85 | ((7 - f.Urgency) & 0x7) << 4); // flags in bits 0..3 and 7 must survive
        h[4] = 0x11; h[5] = 0x22; h[6] = 0x33; h[7] = 0x44;
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(8), f.Channel);
        WriteStreamId(h, f.StreamId);
        h[14] = 0x5E;
        WritePacketNumber(h, f.PacketNumber);
        h[23] = 0x5F;
        return h;
    }

    public override void WritePacketNumber(Span<byte> h, ulong pn) => BinaryPrimitives.WriteUInt64LittleEndian(h[15..], pn);
    public override ulong ReadPacketNumber(ReadOnlySpan<byte> h) => BinaryPrimitives.ReadUInt64LittleEndian(h[15..]);
    public override void WriteStreamId(Span<byte> h, ulong sid) => BinaryPrimitives.WriteUInt16BigEndian(h[12..], (ushort)sid);
    public override void WriteConnectionId(Span<byte> h, ReadOnlySpan<byte> cid) => cid[..4].CopyTo(h[4..]);

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
