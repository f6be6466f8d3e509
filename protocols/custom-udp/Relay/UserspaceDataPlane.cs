using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using FastRelay.Protocols.CustomUdp.Wire;

namespace FastRelay.Protocols.CustomUdp.Relay;

/// <summary>
/// The same job as the kernel fast path, done in this process: for each upstream DATA packet, one renumbered copy per
/// active subscriber of its channel (start rotated per packet), priority drop against the same budget rule, sent from
/// the relay socket. Nothing allocates per packet: subscriber addresses are serialised once at activation, and all
/// copies of a packet leave in one sendmmsg(2) (each its own header, the payload shared).
/// </summary>
public sealed unsafe class UserspaceDataPlane(Socket socket, int maxSubscribers, IRegistrationSink sink) : IDataPlane
{
    private sealed class Slot
    {
        public bool Active;
        public SocketAddress? Address;
        public ulong NextSequence;
        public long BudgetBytes;
        public BudgetSetting Budget;
        public ulong ForwardedPackets, ForwardedBytes, DroppedBudget;
    }

    private sealed class ChannelState
    {
        public IPEndPoint? Upstream;
        public int[] Slots = [];
        public uint Rotation;
    }

    private readonly Slot[] _slots = Enumerable.Range(0, maxSubscribers).Select(_ => new Slot()).ToArray();
    private readonly Dictionary<ushort, ChannelState> _channels = new();
    private readonly byte[] _header = new byte[16];
    private readonly SendBatch _batch = new(socket, maxSubscribers);
    private readonly object _gate = new();

    public string Mode => "userspace";

    public void SetChannel(ushort channel, IPEndPoint? upstream, IReadOnlyList<int> slots)
    {
        lock (_gate)
        {
            if (!_channels.TryGetValue(channel, out var state))
                _channels[channel] = state = new ChannelState();
            state.Upstream = upstream;
            state.Slots = slots.ToArray();
        }
    }

    public void Activate(int slot, SubscriberBinding binding)
    {
        lock (_gate)
        {
            var s = _slots[slot];
            s.Active = true;
            s.Address = SocketAddresses.For(socket, binding.Remote);
            s.NextSequence = 0;
            s.ForwardedPackets = s.ForwardedBytes = s.DroppedBudget = 0;
            s.Budget = default;
        }
    }

    // Every original reaches this process: the relay's own cache has them all.
    public bool TryCopyCached(ushort channel, ulong publisherSequence, Span<byte> destination, out int length)
    {
        length = 0;
        return false;
    }

    public void AddCachedSince(ushort channel, long sinceNs, List<ulong> into)
    {
    }

    public void ForgetCached(ushort channel)
    {
    }

    public (ulong Packets, long LastNs) UpstreamConsumed(ushort channel) => (0, 0);

    public ulong NextSequence(int slot)
    {
        lock (_gate)
            return _slots[slot].NextSequence;
    }

    public void Deactivate(int slot)
    {
        lock (_gate)
            _slots[slot].Active = false;
    }

    public void SetBudget(int slot, BudgetSetting budget)
    {
        lock (_gate)
        {
            _slots[slot].Budget = budget;
            _slots[slot].BudgetBytes = budget.Bytes;
        }
    }

    public void OnUpstreamData(in PacketHeader header, ReadOnlySpan<byte> packet)
    {
        if (packet.Length > ChannelCache.SlotBytes)
            return;
        lock (_gate)
        {
            if (!_channels.TryGetValue(header.Channel, out var state) || state.Upstream is null || state.Slots.Length == 0)
                return;
            var publisherSequence = header.Sequence;
            var urgency = (uint)header.Priority;
            var payloadLength = packet.Length;
            packet[..16].CopyTo(_header);
            var count = state.Slots.Length;
            var start = (int)(state.Rotation++ % (uint)count);
            fixed (byte* payload = packet)
            {
                for (var i = 0; i < count; i++)
                {
                    var slotIndex = state.Slots[(start + i) % count];
                    var slot = _slots[slotIndex];
                    if (!slot.Active || slot.Address is null)
                        continue;
                    if (!BudgetRule.Admit(ref slot.BudgetBytes, slot.Budget, urgency, payloadLength))
                    {
                        slot.DroppedBudget++;
                        continue;
                    }
                    var sequence = slot.NextSequence++;
                    BinaryPrimitives.WriteUInt32BigEndian(_header.AsSpan(4), (uint)sequence);
                    _batch.Add(_header, payload + 16, payloadLength - 16, slot.Address);
                    slot.ForwardedPackets++;
                    slot.ForwardedBytes += (ulong)payloadLength;
                    sink.OnSent(slotIndex, sequence, publisherSequence);
                }
                _batch.Send();
            }
        }
    }

    public SubscriberCounters Counters(int slot)
    {
        lock (_gate)
        {
            var s = _slots[slot];
            return new SubscriberCounters(s.ForwardedPackets, s.ForwardedBytes, s.DroppedBudget, 0);
        }
    }

    public void Flush()
    {
    }

    public void Dispose()
    {
        lock (_gate)
            _batch.Dispose();
    }
}
