using FastRelay.Net;
using System.Net;
using System.Net.Sockets;
using FastRelay.Protocols.CustomUdp.Wire;

namespace FastRelay.Protocols.CustomUdp.Clients;

public sealed record PublisherOptions
{
    public required IPEndPoint Relay { get; init; }
    public required ushort Channel { get; init; }
    /// <summary>Packets per second.</summary>
    public int RatePps { get; init; } = 1000;
    /// <summary>Datagram size (UDP payload: 16-byte header + test payload), ≥ <see cref="TestPayload.MinPacketSize"/>.</summary>
    public int PacketSize { get; init; } = 256;
    /// <summary>How long to stream once accepted; null = until cancelled.</summary>
    public TimeSpan? Duration { get; init; } = TimeSpan.FromSeconds(10);
    public PriorityPattern Priorities { get; init; } = PriorityPattern.Default;
    /// <summary>Restart the handshake when no REPLY came within this.</summary>
    public TimeSpan HandshakeRetry { get; init; } = TimeSpan.FromMilliseconds(500);
    /// <summary>Give up when not accepted within this.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Local endpoint to bind (default: any address of the relay's family, ephemeral port).</summary>
    public IPEndPoint? Local { get; init; }
}

/// <summary>
/// Test publisher: PUBLISH → CHALLENGE → CONFIRM → REPLY (restarting the handshake when no REPLY comes within 500 ms),
/// then a paced stream of DATA packets carrying a <see cref="TestPayload"/> and the CLOCK_MONOTONIC send time in the
/// header (stamped immediately before the send). It answers nothing after the handshake. One socket; no allocation per
/// packet. Pacing: absolute schedule (start + n / rate), sleeping while more than 2 ms remain, yielding, then spinning
/// for the last 100 µs; more than 50 ms behind restarts the schedule instead of bursting.
/// </summary>
public sealed class Publisher : IDisposable
{
    private readonly PublisherOptions _options;
    private readonly Socket _socket;
    private readonly SocketAddress _relay;
    private readonly SocketAddress _from;
    private readonly byte[] _rx = new byte[CustomUdpWire.MaxDatagramSize];
    private readonly byte[] _tx;
    private readonly byte[] _tx2 = new byte[CustomUdpWire.ConfirmPacketSize]; // answers mid-stream without disturbing _tx
    private long _rechallenged;

    public Publisher(PublisherOptions options)
    {
        if (options.RatePps <= 0) throw new ArgumentOutOfRangeException(nameof(options), "rate must be > 0 packets/s");
        if (options.PacketSize < TestPayload.MinPacketSize || options.PacketSize > CustomUdpWire.HeaderSize + TestPayload.MaxSize)
            throw new ArgumentOutOfRangeException(nameof(options), $"packet size must be {TestPayload.MinPacketSize}..{CustomUdpWire.HeaderSize + TestPayload.MaxSize}");
        _options = options;
        _socket = ClientSocket.Open(options.Relay, options.Local);
        _relay = options.Relay.Serialize();
        _from = new SocketAddress(options.Relay.AddressFamily);
        _tx = new byte[Math.Max(options.PacketSize, CustomUdpWire.PublishPacketSize)];
    }

    /// <summary>The local endpoint the relay sees.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>Runs on a dedicated thread until the duration ends or <paramref name="cancellationToken"/> fires.</summary>
    public Task<PublisherReport> RunAsync(CancellationToken cancellationToken = default) =>
        Task.Factory.StartNew(() => Run(cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>Handshake, then stream; blocks the calling thread.</summary>
    public PublisherReport Run(CancellationToken cancellationToken = default)
    {
        var attempts = 0;
        var status = Handshake(cancellationToken, ref attempts);
        if (status != ReplyStatus.Accepted)
            return Report(false, status == (ReplyStatus)255 ? "NoReply" : status.ToString(), attempts, default, 0);
        return Stream(attempts, cancellationToken);
    }

    private ReplyStatus Handshake(CancellationToken ct, ref int attempts)
    {
        var channel = _options.Channel;
        var deadline = MonotonicClock.NowNs() + (ulong)_options.HandshakeTimeout.Ticks * 100;
        var retryNs = (long)_options.HandshakeRetry.Ticks * 100;
        var last = ReplyStatus.BadCookie;
        var gotReply = false;
        while (!ct.IsCancellationRequested && MonotonicClock.NowNs() < deadline)
        {
            attempts++;
            var n = new Publish().Write(_tx, channel, MonotonicClock.NowNs());
            ClientSocket.TrySend(_socket, _tx.AsSpan(0, n), _relay);
            var attemptEnd = (long)MonotonicClock.NowNs() + retryNs;
            while (!ct.IsCancellationRequested)
            {
                var left = attemptEnd - (long)MonotonicClock.NowNs();
                if (left <= 0 || !ClientSocket.WaitReadable(_socket, left)) break;
                var length = ClientSocket.TryReceive(_socket, _rx, _from);
                if (length < 0 || !SocketAddresses.SameEndpoint(_from, _relay)) continue;
                var packet = _rx.AsSpan(0, length);
                if (Challenge.TryRead(packet, out var h, out var challenge) && h.Channel == channel && challenge.Role == Role.Publisher)
                {
                    n = new Confirm(Role.Publisher, challenge.Cookie, 0, 0).Write(_tx, channel, MonotonicClock.NowNs());
                    ClientSocket.TrySend(_socket, _tx.AsSpan(0, n), _relay);
                }
                else if (Reply.TryRead(packet, out h, out var reply) && h.Channel == channel && reply.Role == Role.Publisher)
                {
                    gotReply = true;
                    last = reply.Status;
                    if (reply.Status is ReplyStatus.Accepted or ReplyStatus.RelayFull or ReplyStatus.ChannelHasUpstream)
                        return reply.Status;
                    break; // bad cookie (slot rolled over): start again
                }
            }
        }
        return gotReply ? last : (ReplyStatus)255;
    }

    private PublisherReport Stream(int attempts, CancellationToken ct)
    {
        var o = _options;
        var interval = 1e9 / o.RatePps;
        var perPriority = new long[CustomUdpWire.PriorityLevels];
        long sent = 0, bytes = 0, errors = 0, resets = 0;
        var start = MonotonicClock.NowNs();
        var end = o.Duration is { } d ? start + (ulong)d.Ticks * 100 : ulong.MaxValue;
        var scheduleStart = start;
        ulong scheduled = 0; // packets since scheduleStart
        ulong sequence = 0;
        while (!ct.IsCancellationRequested)
        {
            var due = scheduleStart + (ulong)(scheduled * interval);
            if (due >= end) break;
            var priority = o.Priorities.For(sequence);
            TestPayload.WritePacket(_tx, o.Channel, sequence, priority, o.PacketSize, 0);
            var now = WaitUntil(due, ct);
            if (now > due + 50_000_000)
            {
                resets++;
                scheduleStart = now;
                scheduled = 0;
            }
            PacketHeader.WriteTimestamp(_tx, MonotonicClock.NowNs());
            if (ClientSocket.TrySend(_socket, _tx.AsSpan(0, o.PacketSize), _relay))
            {
                sent++;
                bytes += o.PacketSize;
                perPriority[priority]++;
            }
            else errors++;
            sequence++;
            scheduled++;
            if ((sequence & 15) == 0)
                AnswerChallenges();
        }
        var seconds = (MonotonicClock.NowNs() - start) / 1e9;
        return Report(true, null, attempts, (sent, bytes, errors, resets, perPriority), seconds);
    }

    /// <summary>A relay that restarted has forgotten us and challenges the DATA it receives; answering re-registers this
    /// publisher without interrupting the stream. Checked every few packets (one FIONREAD), never blocking.</summary>
    private void AnswerChallenges()
    {
        while (_socket.Available > 0)
        {
            var length = ClientSocket.TryReceive(_socket, _rx, _from);
            if (length < 0)
                return;
            if (!SocketAddresses.SameEndpoint(_from, _relay))
                continue;
            if (Challenge.TryRead(_rx.AsSpan(0, length), out var h, out var challenge) && h.Channel == _options.Channel && challenge.Role == Role.Publisher)
            {
                var n = new Confirm(Role.Publisher, challenge.Cookie, 0, 0).Write(_tx2, _options.Channel, MonotonicClock.NowNs());
                ClientSocket.TrySend(_socket, _tx2.AsSpan(0, n), _relay);
                _rechallenged++;
            }
        }
    }

    private static ulong WaitUntil(ulong due, CancellationToken ct)
    {
        while (true)
        {
            var now = MonotonicClock.NowNs();
            if (now >= due || ct.IsCancellationRequested) return now;
            var left = due - now;
            if (left > 2_000_000) Thread.Sleep(1);
            else if (left > 100_000) Thread.Yield();
            else Thread.SpinWait(20);
        }
    }

    private PublisherReport Report(bool accepted, string? rejection, int attempts,
        (long Sent, long Bytes, long Errors, long Resets, long[] PerPriority) s, double seconds) => new()
    {
        Relay = _options.Relay.ToString(),
        Channel = _options.Channel,
        Accepted = accepted,
        Rejection = rejection,
        HandshakeAttempts = attempts,
        PacketsSent = s.Sent,
        BytesSent = s.Bytes,
        SendErrors = s.Errors,
        ScheduleResets = s.Resets,
        DurationSeconds = Math.Round(seconds, 3),
        RatePps = seconds > 0 ? Math.Round(s.Sent / seconds, 1) : 0,
        PerPriority = s.PerPriority ?? new long[CustomUdpWire.PriorityLevels],
    };

    public void Dispose() => _socket.Dispose();
}
