using System.Net;
using System.Net.Sockets;
using FastRelay.Net;

namespace FastRelay.Relay;

/// <summary>An upstream datagram a plane accepted for one of its channels.</summary>
public delegate void UpstreamAccepted(ReadOnlySpan<byte> datagram);

/// <summary>
/// The userspace mode of the relay host, for machines without eBPF (and the reference the fast path is compared with):
/// the relay socket receives every datagram and this plane does what the TC programs do for the kernel plane: the
/// descriptor's matches, the channel's allowed sender, one copy per subscriber of the channel (start rotated per
/// datagram, so the last subscriber is not always last) with its connection id, its own packet number (when the
/// descriptor renumbers, registered with the <see cref="IRegistrationSink"/>) and the mapped stream id (when it
/// translates them), priority drop against the slot's budget by the kernel's own rule (<see cref="BudgetRule"/>). All
/// copies of a datagram leave in one sendmmsg(2) (<see cref="SendBatch"/>: each copy its own rewritten header, the rest
/// shared), and nothing allocates per datagram. Channel and subscriber tables change under the same lock the copy loop
/// takes per datagram, so every datagram sees one consistent state.
/// </summary>
public sealed unsafe class UserspaceFanOut : IFanOutPlane, IDisposable
{
    private readonly DescriptorFields _fields;
    private readonly IRegistrationSink? _sink;
    private readonly object _gate = new();
    private readonly Slot?[] _slots;
    private readonly Dictionary<ulong, ChannelEntry> _channels = new();
    private readonly Dictionary<(UInt128 Address, ushort Port), int> _slotByEndpoint = new(); // subscriber ingress in O(1)
    private readonly byte[] _header;
    private Socket? _socket;
    private SendBatch? _batch;
    private long _received, _matched, _notMatched, _noChannel, _foreign, _copies;

    private sealed class Slot(KernelSubscriber binding, SocketAddress address)
    {
        public readonly KernelSubscriber Binding = binding;
        public SocketAddress Address = address; // re-serialised once when the socket's family becomes known
        public readonly Dictionary<ulong, ulong> Streams = new();
        public ulong NextNumber;
        public long BudgetBytes;
        public BudgetSetting Budget;
        public ulong Forwarded, ForwardedBytes, DroppedBudget, Received;
    }

    private sealed class ChannelEntry(IPEndPoint? upstream, SocketAddress? serialized, int[] slots)
    {
        public readonly IPEndPoint? UpstreamEndpoint = upstream;
        public readonly SocketAddress? Upstream = serialized; // serialised once: the copy loop compares without allocating
        public readonly int[] Slots = slots;
        public uint Rotation;
    }

    /// <param name="socket">The relay's socket copies leave from; null until <see cref="Run"/> or <see cref="UseSocket"/> gives one.</param>
    /// <param name="sink">Told the upstream number of every numbered copy (a protocol's retransmission by number).</param>
    public UserspaceFanOut(DescriptorFields fields, int maxSubscribers, Socket? socket = null, IRegistrationSink? sink = null)
    {
        _fields = fields;
        _sink = sink;
        _slots = new Slot?[maxSubscribers];
        _header = new byte[Math.Max(1, fields.RewrittenLength)];
        if (socket is not null)
            UseSocket(socket);
    }

    public string Mode => "userspace";

    /// <summary>Told every upstream datagram the plane accepted (matches, channel and allowed sender checked), before its
    /// copies are made: the retransmission service keeps its history from here. Called under the plane's lock.</summary>
    public UpstreamAccepted? OnAccepted { get; set; }

    /// <summary>The socket copies leave from (dual-mode IPv6 or of the subscribers' family); set once.</summary>
    public void UseSocket(Socket socket)
    {
        lock (_gate)
        {
            if (_socket is not null)
            {
                if (!ReferenceEquals(_socket, socket))
                    throw new InvalidOperationException("the userspace plane already sends from another socket");
                return;
            }
            _socket = socket;
            _batch = new SendBatch(socket, _slots.Length, _header.Length);
            // Slots activated before the socket was known are addressed in its family now.
            foreach (var s in _slots)
                if (s is not null)
                    s.Address = SocketAddresses.For(socket, s.Binding.Remote);
            foreach (var (id, entry) in _channels.ToList())
                _channels[id] = new ChannelEntry(entry.UpstreamEndpoint, entry.UpstreamEndpoint is { } upstream ? Serialize(upstream) : null, entry.Slots) { Rotation = entry.Rotation };
        }
    }

    public void SetChannel(ulong channel, IPEndPoint? upstream, IReadOnlyList<int> slots)
    {
        lock (_gate)
        {
            var plain = upstream is null ? null : SocketAddresses.Plain(upstream);
            var entry = new ChannelEntry(plain, plain is null ? null : Serialize(plain), slots.ToArray());
            if (_channels.TryGetValue(channel, out var old))
                entry.Rotation = old.Rotation;
            _channels[channel] = entry;
        }
    }

    public bool DeleteChannel(ulong channel)
    {
        lock (_gate)
            return _channels.Remove(channel);
    }

    public void Activate(KernelSubscriber subscriber)
    {
        lock (_gate)
        {
            Deactivate(subscriber.Slot);
            var binding = subscriber with { Remote = SocketAddresses.Plain(subscriber.Remote) };
            var slot = _slots[subscriber.Slot] = new Slot(binding, Serialize(binding.Remote));
            if (SocketAddresses.TryGetKey(slot.Address, out var key))
                _slotByEndpoint[key] = subscriber.Slot;
        }
    }

    public void Deactivate(int slot)
    {
        lock (_gate)
        {
            if (_slots[slot] is { } old && SocketAddresses.TryGetKey(old.Address, out var key) && _slotByEndpoint.GetValueOrDefault(key, -1) == slot)
                _slotByEndpoint.Remove(key);
            _slots[slot] = null;
        }
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
        lock (_gate)
        {
            if (_slots[slot] is not { } s)
                return;
            s.Budget = new BudgetSetting(enabled, bytes, reservePerLevel, dropFromLevel);
            s.BudgetBytes = bytes;
        }
    }

    /// <summary>As the kernel plane: adds to what is left (never below zero), capped at <paramref name="burst"/>.</summary>
    public void RefillBudget(int slot, long bytes, long burst, uint reservePerLevel, uint dropFromLevel)
    {
        lock (_gate)
        {
            if (_slots[slot] is not { } s)
                return;
            var left = Math.Min(burst, Math.Max(s.BudgetBytes, 0) + bytes);
            s.Budget = new BudgetSetting(true, left, reservePerLevel, dropFromLevel);
            s.BudgetBytes = left;
        }
    }

    public KernelSubscriberCounters Counters(int slot)
    {
        lock (_gate)
            return _slots[slot] is { } s ? new KernelSubscriberCounters(s.Forwarded, s.ForwardedBytes, s.DroppedBudget, 0, s.Received) : default;
    }

    public ulong NextNumber(int slot)
    {
        lock (_gate)
            return _slots[slot]?.NextNumber ?? 0;
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

    /// <summary>Receives and fans out until cancelled or the socket is closed. The socket must be dual-mode IPv6. Datagrams
    /// are read up to 64 per recvmmsg(2) (<see cref="ReceiveBatch"/>); the wait between batches is bounded, so a
    /// cancellation is noticed within 100 ms.</summary>
    public void Run(Socket socket, CancellationToken cancellationToken)
    {
        UseSocket(socket);
        using var batch = new ReceiveBatch(socket);
        while (!cancellationToken.IsCancellationRequested)
        {
            int count;
            try
            {
                count = batch.Receive();
                if (count == 0)
                {
                    batch.Wait(100);
                    continue;
                }
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            for (var i = 0; i < count; i++)
                OnUpstreamDatagram(batch.Datagram(i), batch.Sender(i));
        }
    }

    /// <summary>Fans one datagram that reached the relay's socket out, as upstream ingress would.</summary>
    public void OnUpstreamDatagram(ReadOnlySpan<byte> datagram, SocketAddress from)
    {
        lock (_gate)
        {
            _received++;
            if (FromSubscriber(from))
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
            if (entry.Upstream is { } allowed && !SocketAddresses.SameEndpoint(allowed, from))
            {
                _foreign++;
                return;
            }
            _matched++;
            OnAccepted?.Invoke(datagram);
            if (entry.Slots.Length == 0 || _batch is null)
                return;
            var upstreamStream = _fields.StreamId?.Read(datagram) ?? 0;
            var upstreamNumber = _fields.PacketNumber?.Read(datagram) ?? 0;
            var urgency = _fields.Priority?.Urgency(datagram) ?? 0;
            var rewritten = _header.AsSpan(0, Math.Min(_header.Length, datagram.Length));
            var count = entry.Slots.Length;
            var start = (int)(entry.Rotation++ % (uint)count);
            fixed (byte* bytes = datagram)
            {
                for (var i = 0; i < count; i++)
                {
                    var index = entry.Slots[(start + i) % count];
                    if (_slots[index] is not { } slot || slot.Binding.Channel != channel)
                        continue;
                    var downstreamStream = upstreamStream;
                    if (_fields.TranslateStreams && !slot.Streams.TryGetValue(upstreamStream, out downstreamStream))
                        continue; // no mapping: not forwarded, as in the kernel
                    if (!BudgetRule.Admit(ref slot.BudgetBytes, slot.Budget, urgency, datagram.Length))
                    {
                        slot.DroppedBudget++;
                        continue;
                    }
                    datagram[..rewritten.Length].CopyTo(rewritten);
                    if (_fields.ConnectionId is { } cid)
                    {
                        rewritten.Slice(cid.Offset, cid.Length).Clear();
                        slot.Binding.ConnectionId?.AsSpan(0, Math.Min(cid.Length, slot.Binding.ConnectionId.Length)).CopyTo(rewritten[cid.Offset..]);
                    }
                    if (_fields.StreamId is { } sid && _fields.TranslateStreams)
                        sid.Write(rewritten, downstreamStream);
                    if (_fields.PacketNumber is { } pn && _fields.RenumberPackets)
                    {
                        var number = slot.NextNumber++;
                        pn.Write(rewritten, number);
                        _sink?.OnSent(index, number, upstreamNumber);
                    }
                    _batch.Add(rewritten, bytes + rewritten.Length, datagram.Length - rewritten.Length, slot.Address);
                    slot.Forwarded++;
                    slot.ForwardedBytes += (ulong)datagram.Length;
                    _copies++;
                }
                // One system call for every copy; a subscriber that is unreachable right now (ICMP) does not stop the others'.
                _batch.Send();
            }
        }
    }

    /// <summary>Datagrams from a subscriber's address are counted for it, never fanned out (the kernel's subscriber ingress).</summary>
    private bool FromSubscriber(SocketAddress source)
    {
        if (!SocketAddresses.TryGetKey(source, out var key) || !_slotByEndpoint.TryGetValue(key, out var index) || _slots[index] is not { } slot)
            return false;
        slot.Received++;
        return true;
    }

    /// <summary>In the socket's family once it is known (a dual-stack socket needs IPv4-mapped IPv6).</summary>
    private SocketAddress Serialize(IPEndPoint endpoint) => _socket is null ? endpoint.Serialize() : SocketAddresses.For(_socket, endpoint);

    /// <summary>Frees the send batch; a receive loop still running afterwards forwards nothing (it checks under the same lock).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _batch?.Dispose();
            _batch = null;
        }
    }
}
