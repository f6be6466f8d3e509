using System.Net;
using System.Net.Sockets;
using FastRelay.Net;
using Microsoft.Extensions.Logging;

namespace FastRelay.Relay.Retransmission;

/// <param name="PacketsPerChannel">Upstream packets kept per channel.</param>
/// <param name="BytesPerChannel">Bytes kept per channel (the oldest packets go first).</param>
/// <param name="BytesPerSecond">Each requester's retransmission budget: refill rate.</param>
/// <param name="BurstBytes">Each requester's retransmission budget: the most it holds.</param>
/// <param name="PacketsPerRequest">The most packets one request is answered with.</param>
public sealed record RetransmissionOptions(
    int PacketsPerChannel = 4096,
    long BytesPerChannel = 8 << 20,
    long BytesPerSecond = 1_000_000,
    long BurstBytes = 256 << 10,
    int PacketsPerRequest = 64);

/// <summary>What the service did, for status and tests.</summary>
public sealed record RetransmissionCounters(
    long Requests, long Malformed, long NotSubscriber, long Answered, long PacketsSent, long BytesSent,
    long NothingKept, long CutByBudget, long Recorded);

/// <summary>
/// Answers retransmission requests from the relay's history of the upstream stream. The relay records every upstream
/// packet it forwarded (<see cref="RecordForwarded"/> from the userspace copy loop, which checked the channel and its
/// sender already; <see cref="OfferUpstream"/> for what reaches the fast path's socket, checked here against the
/// descriptor's matches and the plan) into an <see cref="UpstreamRing"/>; requests arrive on a socket of their own
/// (<see cref="Run"/>), are read by the protocol's <see cref="IRetransmissionFormat"/>, and are answered with the kept
/// packets, byte for byte as the publisher sent them, unicast to the requester. Only a subscriber of the requested
/// channel (by address, any port: receivers often ask from another socket) is answered, within its
/// <see cref="RequesterBudget"/>; everything else is counted and dropped, never answered.
/// </summary>
public sealed class RetransmissionService
{
    private readonly IRetransmissionFormat _format;
    private readonly DescriptorFields? _fields;
    private readonly Func<RelayPlan> _plan;
    private readonly RetransmissionOptions _options;
    private readonly ILogger _log;
    private readonly RequesterBudget _budget;
    private readonly object _gate = new();
    private RelayPlan? _indexedPlan;
    private Dictionary<ulong, ChannelPlan> _channels = new();
    private readonly Dictionary<ulong, IPEndPoint?> _recordedUpstream = new();
    private long _requests, _malformed, _notSubscriber, _answered, _packetsSent, _bytesSent, _nothingKept, _cutByBudget, _recorded;

    /// <param name="fields">The descriptor's fields, to check what reaches the fast path's socket (<see cref="OfferUpstream"/>);
    /// null when only <see cref="RecordForwarded"/> is used.</param>
    /// <param name="plan">The running plan (channels, their allowed sender, subscribers): read per request.</param>
    public RetransmissionService(IRetransmissionFormat format, DescriptorFields? fields, Func<RelayPlan> plan, RetransmissionOptions options,
        int maxChannels, ILogger log, Func<long>? clockMs = null)
    {
        if (options.PacketsPerRequest < 1)
            throw new ArgumentOutOfRangeException(nameof(options), "a request must be answerable with at least one packet");
        _format = format;
        _fields = fields;
        _plan = plan;
        _options = options;
        _log = log;
        History = new UpstreamRing(options.PacketsPerChannel, options.BytesPerChannel, maxChannels);
        _budget = new RequesterBudget(options.BytesPerSecond, options.BurstBytes, clockMs ?? (() => Environment.TickCount64));
    }

    public UpstreamRing History { get; }

    public IRetransmissionFormat Format => _format;

    public RetransmissionCounters Counters()
    {
        lock (_gate)
            return new RetransmissionCounters(_requests, _malformed, _notSubscriber, _answered, _packetsSent, _bytesSent, _nothingKept, _cutByBudget, _recorded);
    }

    /// <summary>An upstream packet the userspace plane forwarded (its channel and sender were checked there).</summary>
    public void RecordForwarded(ReadOnlySpan<byte> datagram)
    {
        if (!_format.TryDescribe(datagram, out var span))
            return;
        lock (_gate)
        {
            var channel = Channel(span.Channel);
            if (channel is null)
                return;
            Keep(channel, span, datagram);
        }
    }

    /// <summary>A datagram that reached the fast path's relay socket: the originals the kernel passed up after fanning
    /// them out, but also packets it did not forward. Kept only when it is what the kernel forwards: the descriptor's
    /// matches hold, its channel is in the plan and it came from the channel's allowed sender (any sender but the
    /// channel's own subscribers when the plan allows any).</summary>
    public void OfferUpstream(ReadOnlySpan<byte> datagram, IPEndPoint from)
    {
        if (_fields is null || !_fields.IsEligible(datagram) || !_format.TryDescribe(datagram, out var span))
            return;
        var from4 = SocketAddresses.Plain(from);
        lock (_gate)
        {
            var channel = Channel(_fields.Channel?.Read(datagram) ?? 0);
            if (channel is null || channel.Id != span.Channel)
                return;
            if (channel.Upstream is { } allowed ? !allowed.Equals(from4) : channel.Subscribers.Any(s => s.Address.Address.Equals(from4.Address)))
                return;
            Keep(channel, span, datagram);
        }
    }

    private void Keep(ChannelPlan channel, SequenceSpan span, ReadOnlySpan<byte> datagram)
    {
        // Another sender now feeds the channel: its numbers may repeat the old one's, never answer with the old packets.
        if (_recordedUpstream.TryGetValue(channel.Id, out var previous) && !Equals(previous, channel.Upstream))
            History.Forget(channel.Id);
        _recordedUpstream[channel.Id] = channel.Upstream;
        History.Record(span, datagram);
        _recorded++;
    }

    /// <summary>Reads one request and returns the packets to send back to <paramref name="from"/> (empty: not answered).</summary>
    public IReadOnlyList<byte[]> Answer(ReadOnlySpan<byte> datagram, IPEndPoint from)
    {
        lock (_gate)
        {
            _requests++;
            if (_format.TryParseRequest(datagram, out var request) is { } refusal)
            {
                _malformed++;
                _log.LogDebug("retransmission request from {From} refused: {Refusal}", from, refusal);
                return [];
            }
            var address = SocketAddresses.Plain(from).Address;
            var channel = Channel(request.Channel);
            var subscriber = channel?.Subscribers.FirstOrDefault(s => SocketAddresses.Plain(s.Address).Address.Equals(address));
            if (channel is null || subscriber is null)
            {
                _notSubscriber++;
                _log.LogDebug("retransmission request from {From} for channel {Channel} refused: not a subscriber of it", from, request.Channel);
                return [];
            }
            var kept = History.Find(request.Channel, request.First, request.Count, _options.PacketsPerRequest);
            var answer = new List<byte[]>(kept.Count);
            foreach (var packet in kept)
            {
                if (!_format.Answers(datagram, packet))
                    continue;
                if (!_budget.TryTake(channel.Id, subscriber.Address, packet.Length))
                {
                    _cutByBudget++;
                    break; // in order: the requester asks again for the rest once its budget refilled
                }
                answer.Add(packet);
                _bytesSent += packet.Length;
            }
            if (answer.Count == 0 && kept.Count == 0)
                _nothingKept++;
            if (answer.Count > 0)
                _answered++;
            _packetsSent += answer.Count;
            return answer;
        }
    }

    /// <summary>Receives requests on <paramref name="socket"/> (its own port) and answers each from the same socket
    /// until cancelled or the socket is closed.</summary>
    public void Run(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[65536]; // any UDP datagram fits whole, so an oversized request is refused by its real length
        EndPoint any = new IPEndPoint(socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!cancellationToken.IsCancellationRequested)
        {
            int length;
            EndPoint from = any;
            try
            {
                length = socket.ReceiveFrom(buffer, ref from);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock or SocketError.ConnectionReset or SocketError.Interrupted)
            {
                continue;
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                return;
            }
            var datagram = buffer.AsSpan(0, length);
            var requester = (IPEndPoint)from;
            foreach (var packet in Answer(datagram, requester))
            {
                try
                {
                    socket.SendTo(packet, requester);
                }
                catch (SocketException e)
                {
                    _log.LogDebug("retransmission to {Requester} failed: {Problem}", requester, e.Message);
                    break;
                }
            }
        }
    }

    /// <summary>The plan's channel, indexed once per plan (the plan is replaced, never changed in place).</summary>
    private ChannelPlan? Channel(ulong id)
    {
        var plan = _plan();
        if (!ReferenceEquals(plan, _indexedPlan))
        {
            _channels = plan.Channels.ToDictionary(c => c.Id);
            _indexedPlan = plan;
            foreach (var gone in _recordedUpstream.Keys.Where(k => !_channels.ContainsKey(k)).ToList())
            {
                History.Forget(gone);
                _recordedUpstream.Remove(gone);
            }
            _budget.Retain((c, s) => _channels.TryGetValue(c, out var ch) && ch.Subscribers.Any(x => x.Address.Equals(s)));
        }
        return _channels.GetValueOrDefault(id);
    }
}
