using System.Net;
using System.Net.Sockets;

namespace FastRelay.Relay;

/// <summary>
/// The userspace mode of the generic host, for machines without eBPF: the relay socket receives every datagram and
/// this loop does what the TC programs do for the kernel plane: the descriptor's matches, the channel's allowed
/// sender, one copy per subscriber of the channel with its connection id, its own packet number (when the descriptor
/// renumbers) and the mapped stream id (when it translates them), sent from the relay's socket. Budgets (priority drop)
/// are not applied here. Channel and subscriber tables are swapped whole under a lock by the host's diff, so the
/// receive loop reads one consistent snapshot per datagram.
/// </summary>
public sealed class UserspaceFanOut : IFanOutPlane
{
    private readonly DescriptorFields _fields;
    private readonly object _gate = new();
    private readonly Slot?[] _slots;
    private readonly Dictionary<ulong, (IPEndPoint? Upstream, int[] Slots)> _channels = new();
    private long _received, _matched, _notMatched, _noChannel, _foreign, _copies;

    private sealed class Slot(KernelSubscriber binding)
    {
        public readonly KernelSubscriber Binding = binding;
        public readonly SocketAddress Address = new IPEndPoint(binding.Remote.Address.IsIPv4MappedToIPv6 ? binding.Remote.Address : binding.Remote.Address.MapToIPv6(), binding.Remote.Port).Serialize();
        public readonly Dictionary<ulong, ulong> Streams = new();
        public ulong NextNumber;
        public ulong Forwarded, ForwardedBytes, Received;
    }

    public UserspaceFanOut(DescriptorFields fields, int maxSubscribers)
    {
        _fields = fields;
        _slots = new Slot?[maxSubscribers];
    }

    public string Mode => "userspace";

    public void SetChannel(ulong channel, IPEndPoint? upstream, IReadOnlyList<int> slots)
    {
        lock (_gate)
            _channels[channel] = (upstream is null ? null : Plain(upstream), slots.ToArray());
    }

    public bool DeleteChannel(ulong channel)
    {
        lock (_gate)
            return _channels.Remove(channel);
    }

    public void Activate(KernelSubscriber subscriber)
    {
        lock (_gate)
            _slots[subscriber.Slot] = new Slot(subscriber with { Remote = Plain(subscriber.Remote) });
    }

    public void Deactivate(int slot)
    {
        lock (_gate)
            _slots[slot] = null;
    }

    public void SetStream(int slot, ulong upstreamStream, ulong downstreamStream)
    {
        lock (_gate)
            if (_slots[slot] is { } s)
                s.Streams[upstreamStream] = downstreamStream;
    }

    public bool DeleteStream(int slot, ulong upstreamStream)
    {
        lock (_gate)
            return _slots[slot]?.Streams.Remove(upstreamStream) ?? false;
    }

    public void SetBudget(int slot, long bytes, uint reservePerLevel, uint dropFromLevel, bool enabled = true)
    {
        // Not applied in userspace mode (documented): every copy is sent.
    }

    public void RefillBudget(int slot, long bytes, long burst, uint reservePerLevel, uint dropFromLevel)
    {
    }

    public KernelSubscriberCounters Counters(int slot)
    {
        lock (_gate)
            return _slots[slot] is { } s ? new KernelSubscriberCounters(s.Forwarded, s.ForwardedBytes, 0, 0, s.Received) : default;
    }

    public IReadOnlyDictionary<string, ulong> PlaneCounters()
    {
        lock (_gate)
            return new Dictionary<string, ulong>
            {
                ["upstream_seen"] = (ulong)_received, ["upstream_matched"] = (ulong)_matched, ["upstream_not_matched"] = (ulong)_notMatched,
                ["upstream_no_channel"] = (ulong)_noChannel, ["upstream_foreign_source"] = (ulong)_foreign, ["clones"] = (ulong)_copies,
            };
    }

    public void Tick()
    {
    }

    /// <summary>Receives and fans out until cancelled or the socket is closed. The socket must be dual-mode IPv6.</summary>
    public void Run(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[65536];
        var copy = new byte[65536];
        var from = new SocketAddress(AddressFamily.InterNetworkV6);
        while (!cancellationToken.IsCancellationRequested)
        {
            int length;
            try
            {
                length = socket.ReceiveFrom(buffer, SocketFlags.None, from);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock or SocketError.ConnectionReset or SocketError.Interrupted)
            {
                continue;
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                return;
            }
            FanOut(socket, buffer.AsSpan(0, length), from, copy);
        }
    }

    private void FanOut(Socket socket, ReadOnlySpan<byte> datagram, SocketAddress from, byte[] copy)
    {
        lock (_gate)
        {
            _received++;
            var source = Plain((IPEndPoint)new IPEndPoint(IPAddress.IPv6Any, 0).Create(from));
            if (FromSubscriber(source))
                return;
            if (!_fields.IsEligible(datagram))
            {
                _notMatched++;
                return;
            }
            var channel = _fields.Channel?.Read(datagram) ?? 0;
            if (!_channels.TryGetValue(channel, out var entry))
            {
                _noChannel++;
                return;
            }
            if (entry.Upstream is { } allowed && !allowed.Equals(source))
            {
                _foreign++;
                return;
            }
            _matched++;
            var upstreamStream = _fields.StreamId?.Read(datagram) ?? 0;
            foreach (var index in entry.Slots)
            {
                if (_slots[index] is not { } slot || slot.Binding.Channel != channel)
                    continue;
                var downstreamStream = upstreamStream;
                if (_fields.TranslateStreams && !slot.Streams.TryGetValue(upstreamStream, out downstreamStream))
                    continue; // no mapping: not forwarded, as in the kernel
                datagram.CopyTo(copy);
                var header = copy.AsSpan(0, datagram.Length);
                if (_fields.ConnectionId is { } cid)
                {
                    header.Slice(cid.Offset, cid.Length).Clear();
                    slot.Binding.ConnectionId?.AsSpan(0, Math.Min(cid.Length, slot.Binding.ConnectionId.Length)).CopyTo(header[cid.Offset..]);
                }
                if (_fields.StreamId is { } sid && _fields.TranslateStreams)
                    sid.Write(header, downstreamStream);
                if (_fields.PacketNumber is { } pn && _fields.RenumberPackets)
                    pn.Write(header, slot.NextNumber++);
                try
                {
                    socket.SendTo(header, SocketFlags.None, slot.Address);
                    slot.Forwarded++;
                    slot.ForwardedBytes += (ulong)datagram.Length;
                    _copies++;
                }
                catch (SocketException)
                {
                    // A subscriber that is unreachable right now (ICMP) does not stop the others' copies.
                }
            }
        }
    }

    /// <summary>Datagrams from a subscriber's address are counted for it, never fanned out (the kernel's subscriber ingress).</summary>
    private bool FromSubscriber(IPEndPoint source)
    {
        foreach (var slot in _slots)
            if (slot is not null && slot.Binding.Remote.Equals(source))
            {
                slot.Received++;
                return true;
            }
        return false;
    }

    private static IPEndPoint Plain(IPEndPoint endpoint) =>
        endpoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endpoint.Address.MapToIPv4(), endpoint.Port) : endpoint;
}
