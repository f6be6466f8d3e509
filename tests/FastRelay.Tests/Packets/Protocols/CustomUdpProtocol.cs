using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;
using FastRelay.Bpf;
using FastRelay.Generated;
using FastRelay.Tests.Packets.Fixtures;
using Xunit;
using G = FastRelay.Protocols.CustomUdp.CustomUdpHeaderFastPath;

namespace FastRelay.Tests.Packets.Protocols;

/// <summary>
/// custom_udp (protocols/custom-udp/CustomUdpHeader.cs): byte 0 version/type (0x1_ = v1, bit 3 = DATA), byte 1 priority
/// in bits 0..2 (0 = most urgent) + flags, 2..3 channel BE, 4..7 sequence BE (translated), 8..15 timestamp, 16.. payload.
/// No connection id, no stream id.
/// </summary>
public sealed class CustomUdpProtocol : FastPathProtocol
{
    public static CustomUdpProtocol Instance { get; } = new();

    public override GeneratedProtocol Generated => G.Protocol;
    public override int HeaderLength => 16;
    public override uint MarkMagic => G.MarkMagic;
    public override int UrgencyLevels => 8;
    public override int ConnectionIdLength => 0;
    public override bool TranslatesStreams => false;
    public override int PacketNumberBytes => 4;
    public override int NumberingLength => 8;
    public override PacketKind StackPacketKind => PacketKind.FastPath;

    public override byte[] Header(HeaderFields f)
    {
        var h = new byte[16];
        h[0] = f.Kind switch { PacketKind.FastPath => 0x1A, PacketKind.Control => 0x11, _ => 0x28 };
        h[1] = (byte)(0xA8 | (f.Urgency & 0x7)); // application flags in bits 3..7 must survive
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), (ushort)f.Channel);
        WritePacketNumber(h, f.PacketNumber);
        BinaryPrimitives.WriteUInt64BigEndian(h.AsSpan(8), 0x0102030405060708);
        return h;
    }

    public override void WritePacketNumber(Span<byte> h, ulong pn) => BinaryPrimitives.WriteUInt32BigEndian(h[4..], (uint)pn);
    public override ulong ReadPacketNumber(ReadOnlySpan<byte> h) => BinaryPrimitives.ReadUInt32BigEndian(h[4..]);

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
            var sub = new G.Subscriber { Active = s.Active ? 1u : 0u, IfIndex = s.IfIndex, Channel = new G.ChannelKey { Id = (ushort)s.Channel }, Local = Ep(s.Local), Remote = Ep(s.Remote) };
            s.MacSource.CopyTo(sub.MacSource);
            s.MacDestination.CopyTo(sub.MacDestination);
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
            maps.Channels.Update(new G.ChannelKey { Id = (ushort)id }, ch);
        }

        public override uint ChannelRotation(uint id) => maps.Channels.Lookup(new G.ChannelKey { Id = (ushort)id }).Rotation;

        public override RelayStats Stats() => StructMirror.Sum<G.Stats, RelayStats>(maps.Stats.LookupPerCpu(0u));
        public override SubscriberCounters SubscriberStats(uint slot) =>
            StructMirror.Sum<G.SubscriberStats, SubscriberCounters>([maps.SubscriberStats.Lookup(slot)]);

        public override RegistrationView Decode(ReadOnlySpan<byte> record)
        {
            Assert.Equal(G.EventReader.RecordSize, record.Length);
            var r = G.EventReader.Decode(record);
            return new RegistrationView(r.TimestampNs, r.PacketNumber, r.UpstreamPacketNumber, 0, 0, r.Slot, r.Length, (byte)r.Origin, r.Urgency);
        }

        private static G.Endpoint Ep(IPEndPoint e, bool junk = false)
        {
            var ep = new G.Endpoint { Family = EndpointBytes.Family(e), Port = EndpointBytes.NetworkPort(e) };
            EndpointBytes.Address(e, junk).CopyTo(ep.Address);
            return ep;
        }
    }
}
