using FastRelay.Net;
using System.Net;
using System.Net.Sockets;
using FastRelay.Protocols.CustomUdp.Wire;

namespace FastRelay.Protocols.CustomUdp.Clients;

public sealed record SubscriberOptions
{
    public required IPEndPoint Relay { get; init; }
    public required ushort Channel { get; init; }
    /// <summary>HISTORY the relay should replay on acceptance, ms.</summary>
    public uint HistoryMs { get; init; }
    /// <summary>rate_bytes_per_s sent in SUBSCRIBE, CONFIRM and FEEDBACK; default: no limit.</summary>
    public uint RateLimitBytesPerSecond { get; init; } = CustomUdpWire.UnlimitedRate;
    /// <summary>How long a gap may be reordering before it is NACKed.</summary>
    public TimeSpan ReorderDelay { get; init; } = TimeSpan.FromMilliseconds(5);
    /// <summary>NACK again when a gap is still open this long after the last NACK.</summary>
    public TimeSpan NackRetryInterval { get; init; } = TimeSpan.FromMilliseconds(25);
    /// <summary>NACKs per gap before it counts as unrepaired.</summary>
    public int MaxNackAttempts { get; init; } = 4;
    public TimeSpan FeedbackInterval { get; init; } = TimeSpan.FromMilliseconds(100);
    /// <summary>Restart the handshake when no REPLY came within this.</summary>
    public TimeSpan HandshakeRetry { get; init; } = TimeSpan.FromMilliseconds(500);
    /// <summary>Re-subscribe when nothing came from the relay for this long once subscribed.</summary>
    public TimeSpan Silence { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Local endpoint to bind (default: any address of the relay's family, ephemeral port).</summary>
    public IPEndPoint? Local { get; init; }
}

/// <summary>
/// Test subscriber. SUBSCRIBE (history, rate) → CHALLENGE → CONFIRM → REPLY, restarting the handshake every 500 ms
/// until accepted; then receives DATA, REPAIR and HISTORY: tracks the per-subscriber sequence for gaps
/// (<see cref="SequenceTracker"/>: NACK after a 5 ms reorder delay, again every 25 ms, up to 4 times), sends FEEDBACK
/// (rate, next expected sequence) every 100 ms, verifies every payload (<see cref="TestPayload"/>) and channel, and
/// records the one-way delay receive-CLOCK_MONOTONIC − header timestamp of each DATA packet into a preallocated
/// <see cref="DelayHistogram"/>. A second without any packet from the relay re-subscribes (the relay restarted or
/// forgot us); the numbering then restarts. A relay that still has us answers our FEEDBACK with its REPLY while the
/// channel is quiet, so a quiet channel alone never makes us start over. UNSUBSCRIBE on stop. One thread, one socket, no allocation per packet
/// (poll(2) then <c>ReceiveFrom(Span, SocketFlags, SocketAddress)</c>).
/// </summary>
public sealed class Subscriber : IDisposable
{
    private readonly SubscriberOptions _o;
    private readonly Socket _socket;
    private readonly SocketAddress _relay;
    private readonly SocketAddress _from;
    private readonly byte[] _rx = new byte[CustomUdpWire.MaxDatagramSize];
    private readonly byte[] _tx = new byte[1500];
    private readonly NackRange[] _ranges = new NackRange[CustomUdpWire.MaxNackRanges];
    private readonly SequenceTracker _tracker;
    private readonly DelayHistogram _delay = new();

    private enum Phase { Subscribing, Confirming, Accepted }

    private Phase _phase;
    private bool _everAccepted;
    private string? _rejection;
    private int _attempts, _resubscribes;
    private long _lastHandshakeNs, _lastFromRelayNs, _nextFeedbackNs, _nextNackNs;
    private ulong _session; // from the relay's REPLY: every FEEDBACK, NACK and UNSUBSCRIBE carries it
    private long _received, _bytes, _repaired, _reordered, _duplicates, _tooLate, _history;
    private readonly long[] _receivedByPriority = new long[CustomUdpWire.PriorityLevels];
    private long _nacks, _feedback, _integrity, _wrongChannel, _malformed, _foreign, _negative;
    private ulong _minPublisherSeq = ulong.MaxValue, _maxPublisherSeq;
    private long _deliveredUnique, _repeatedPublisher;
    // The last publisher sequences delivered, by their low 16 bits (stored + 1; 0 = empty): a publisher packet delivered
    // under two of our sequence numbers means the relay numbered or repaired wrongly.
    private readonly ulong[] _recentPublisher = new ulong[65536];

    public Subscriber(SubscriberOptions options)
    {
        _o = options;
        _tracker = new SequenceTracker(Ns(options.ReorderDelay), Ns(options.NackRetryInterval), options.MaxNackAttempts);
        _socket = ClientSocket.Open(options.Relay, options.Local);
        _relay = options.Relay.Serialize();
        _from = new SocketAddress(options.Relay.AddressFamily);
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>The relay accepted us and we have not gone silent since.</summary>
    public bool IsSubscribed => _phase == Phase.Accepted;

    /// <summary>DATA received plus REPAIRs that filled a gap, so far: readable from any thread while <see cref="Run"/>
    /// runs, for a caller that stops the subscriber once it has what it waits for (instead of after a guessed time).</summary>
    public long PacketsDelivered => Volatile.Read(ref _received) + Volatile.Read(ref _repaired);

    public Task<SubscriberReport> RunAsync(TimeSpan? duration, CancellationToken cancellationToken = default) =>
        Task.Factory.StartNew(() => Run(duration, cancellationToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>Subscribes and receives until <paramref name="duration"/> (null: until cancelled); blocks the calling thread.</summary>
    public SubscriberReport Run(TimeSpan? duration, CancellationToken cancellationToken = default)
    {
        var start = Now();
        var end = duration is { } d ? start + Ns(d) : long.MaxValue;
        StartHandshake(start);
        var silence = Ns(_o.Silence);
        var retry = Ns(_o.HandshakeRetry);
        var feedbackEvery = Ns(_o.FeedbackInterval);

        while (!cancellationToken.IsCancellationRequested)
        {
            var now = Now();
            if (now >= end) break;

            // Timers.
            if (_phase == Phase.Accepted)
            {
                // Before a timer concludes that nothing came (a second of silence, a NACK's last chance gone), whatever did
                // come is handled: a subscriber that was not scheduled for a while (a loaded machine) must not start over,
                // or give a gap up, while the relay's packets, the repair among them, wait in its socket.
                if (now - _lastFromRelayNs >= silence || (_tracker.HasGaps && now >= _nextNackNs))
                {
                    HandleArrived();
                    now = Now();
                }
                if (now - _lastFromRelayNs >= silence)
                {
                    _resubscribes++;
                    StartHandshake(now);
                    continue;
                }
                if (now >= _nextFeedbackNs)
                {
                    SendFeedback(now);
                    _nextFeedbackNs = now + feedbackEvery;
                }
                if (_tracker.HasGaps && now >= _nextNackNs)
                {
                    var count = _tracker.CollectNacks(now, _ranges);
                    if (count > 0)
                    {
                        var n = Nack.Write(_tx, _o.Channel, (ulong)now, _session, _ranges.AsSpan(0, count));
                        if (ClientSocket.TrySend(_socket, _tx.AsSpan(0, n), _relay)) _nacks++;
                    }
                    _nextNackNs = now + 1_000_000;
                }
            }
            else if (now - _lastHandshakeNs >= retry)
                StartHandshake(now);

            // Wait for the next datagram or the next timer.
            var wake = end;
            if (_phase == Phase.Accepted)
            {
                wake = Math.Min(wake, Math.Min(_nextFeedbackNs, _lastFromRelayNs + silence));
                if (_tracker.HasGaps) wake = Math.Min(wake, _nextNackNs);
            }
            else wake = Math.Min(wake, _lastHandshakeNs + retry);
            if (!ClientSocket.WaitReadable(_socket, Math.Min(wake - now, 100_000_000)))
                continue;

            ReceiveOne();
        }

        if (_phase != Phase.Subscribing || _everAccepted)
        {
            var n = new Unsubscribe(_session).Write(_tx, _o.Channel, MonotonicClock.NowNs());
            ClientSocket.TrySend(_socket, _tx.AsSpan(0, n), _relay);
        }
        return Report((Now() - start) / 1e9);
    }

    /// <summary>Receives and handles one datagram known to be readable.</summary>
    private void ReceiveOne()
    {
        var length = ClientSocket.TryReceive(_socket, _rx, _from);
        var rxNs = Now();
        if (length < 0) return;
        if (!SocketAddresses.SameEndpoint(_from, _relay))
        {
            _foreign++;
            return;
        }
        Handle(_rx.AsSpan(0, length), rxNs);
    }

    /// <summary>Most datagrams handled before the timers run again: a flood cannot hold FEEDBACK off for long.</summary>
    private const int MaxArrivedPerDrain = 4096;

    /// <summary>Handles what is already in the socket, without waiting.</summary>
    private void HandleArrived()
    {
        for (var i = 0; i < MaxArrivedPerDrain && ClientSocket.WaitReadable(_socket, 0); i++)
            ReceiveOne();
    }

    private void Handle(ReadOnlySpan<byte> packet, long rxNs)
    {
        if (!PacketHeader.TryRead(packet, out var header))
        {
            _malformed++;
            return;
        }
        if (header.IsData)
        {
            // The REPLY was lost, but the relay sends: we are in. Without the session our FEEDBACK is refused, and the
            // relay answers that with the REPLY again.
            if (_phase == Phase.Confirming)
            {
                _session = 0;
                Accept(rxNs);
            }
            if (_phase != Phase.Accepted) return;          // stale DATA of a subscription we are redoing
            _lastFromRelayNs = rxNs;
            OnData(packet, header, rxNs);
            return;
        }
        if (!ControlMessage.TryReadType(packet, out _, out var type))
        {
            _malformed++;
            return;
        }
        switch (type)
        {
            case ControlType.Challenge:
                if (!Challenge.TryRead(packet, out var h, out var challenge)) { _malformed++; return; }
                if (_phase == Phase.Accepted || h.Channel != _o.Channel || challenge.Role != Role.Subscriber) return;
                var n = new Confirm(Role.Subscriber, challenge.Cookie, _o.HistoryMs, _o.RateLimitBytesPerSecond).Write(_tx, _o.Channel, (ulong)rxNs);
                ClientSocket.TrySend(_socket, _tx.AsSpan(0, n), _relay);
                _phase = Phase.Confirming;
                return;
            case ControlType.Reply:
                if (!Reply.TryRead(packet, out h, out var reply)) { _malformed++; return; }
                if (h.Channel != _o.Channel || reply.Role != Role.Subscriber) return;
                if (_phase == Phase.Accepted)
                {
                    // The relay repeats its REPLY when our messages lacked the session (the first REPLY was lost), and
                    // while our channel is quiet, to show that it still has us: no reason to start over.
                    if (reply.Status == ReplyStatus.Accepted)
                    {
                        _session = reply.Session;
                        _lastFromRelayNs = rxNs;
                    }
                    return;
                }
                if (reply.Status == ReplyStatus.Accepted)
                {
                    _session = reply.Session;
                    Accept(rxNs);
                }
                else
                {
                    _rejection = reply.Status.ToString();
                    if (reply.Status == ReplyStatus.BadCookie) StartHandshake(rxNs); // slot rolled over: again at once
                    // RelayFull: the handshake is retried every HandshakeRetry.
                }
                return;
            case ControlType.Repair:
                if (!Repair.TryRead(packet, out _, out var repair)) { _malformed++; return; }
                if (_phase != Phase.Accepted) return;
                _lastFromRelayNs = rxNs;
                var payloadOk = CheckPayload(repair.DataHeader, repair.DataPacket[CustomUdpWire.HeaderSize..], out var pubSeq);
                switch (_tracker.OnReceived(repair.Sequence, rxNs))
                {
                    case SequenceOutcome.New or SequenceOutcome.FilledGap or SequenceOutcome.FilledLate:
                        _repaired++;
                        Delivered(payloadOk, pubSeq);
                        break;
                    case SequenceOutcome.Duplicate: _duplicates++; break;
                    default: _tooLate++; break;
                }
                return;
            case ControlType.History:
                if (!History.TryRead(packet, out _, out var history)) { _malformed++; return; }
                if (_phase != Phase.Accepted) return;
                _lastFromRelayNs = rxNs;
                _history++;
                CheckPayload(history.DataHeader, history.DataPacket[CustomUdpWire.HeaderSize..], out _);
                return;
            default:
                return; // requests meant for a relay: not ours to answer
        }
    }

    private void OnData(ReadOnlySpan<byte> packet, in PacketHeader header, long rxNs)
    {
        var payloadOk = CheckPayload(header, packet[CustomUdpWire.HeaderSize..], out var pubSeq);
        var outcome = _tracker.OnReceived(header.Sequence, rxNs);
        switch (outcome)
        {
            case SequenceOutcome.New:
            case SequenceOutcome.FilledGap:
            case SequenceOutcome.FilledLate:
                if (outcome != SequenceOutcome.New) _reordered++;
                _received++;
                _receivedByPriority[header.Priority & 0x07]++;
                _bytes += packet.Length;
                Delivered(payloadOk, pubSeq);
                var delay = rxNs - (long)header.TimestampNs;
                if (delay >= 0) _delay.Record((ulong)delay);
                else _negative++;
                break;
            case SequenceOutcome.Duplicate: _duplicates++; break;
            default: _tooLate++; break;
        }
    }

    private bool CheckPayload(in PacketHeader header, ReadOnlySpan<byte> payload, out ulong publisherSequence)
    {
        var status = TestPayload.Verify(payload, _o.Channel, out publisherSequence);
        if (header.Channel != _o.Channel || status == TestPayloadStatus.WrongChannel)
        {
            _wrongChannel++;
            return false;
        }
        if (status != TestPayloadStatus.Ok)
        {
            _integrity++;
            return false;
        }
        return true;
    }

    private void Delivered(bool payloadOk, ulong publisherSequence)
    {
        if (!payloadOk) return;
        ref var recent = ref _recentPublisher[publisherSequence & 0xFFFF];
        if (recent == publisherSequence + 1)
        {
            _repeatedPublisher++;
            return;
        }
        recent = publisherSequence + 1;
        _deliveredUnique++;
        if (publisherSequence < _minPublisherSeq) _minPublisherSeq = publisherSequence;
        if (publisherSequence > _maxPublisherSeq) _maxPublisherSeq = publisherSequence;
    }

    private void StartHandshake(long now)
    {
        if (_phase == Phase.Accepted) _tracker.GiveUpAll();
        _phase = Phase.Subscribing;
        _attempts++;
        _lastHandshakeNs = now;
        var n = new Subscribe(_o.HistoryMs, _o.RateLimitBytesPerSecond).Write(_tx, _o.Channel, (ulong)now);
        ClientSocket.TrySend(_socket, _tx.AsSpan(0, n), _relay);
    }

    private void Accept(long now)
    {
        _phase = Phase.Accepted;
        _everAccepted = true;
        _rejection = null;
        _tracker.Reset(); // a new subscription: the relay numbers from 0 again
        _lastFromRelayNs = now;
        _nextFeedbackNs = now; // first FEEDBACK at once: confirms the budget
        _nextNackNs = now;
    }

    private void SendFeedback(long now)
    {
        var n = new Feedback(_o.RateLimitBytesPerSecond, _tracker.NextExpected, _session).Write(_tx, _o.Channel, (ulong)now);
        if (ClientSocket.TrySend(_socket, _tx.AsSpan(0, n), _relay)) _feedback++;
    }

    private SubscriberReport Report(double seconds)
    {
        var open = _tracker.Outstanding;
        _tracker.GiveUpAll();
        var span = _deliveredUnique == 0 ? 0 : (long)(_maxPublisherSeq - _minPublisherSeq + 1);
        return new SubscriberReport
        {
            Relay = _o.Relay.ToString(),
            Channel = _o.Channel,
            Subscribed = _everAccepted,
            Rejection = _rejection,
            DurationSeconds = Math.Round(seconds, 3),
            HandshakeAttempts = _attempts,
            Resubscribes = _resubscribes,
            Received = _received,
            ReceivedByPriority = (long[])_receivedByPriority.Clone(),
            Bytes = _bytes,
            Repaired = _repaired,
            Reordered = _reordered,
            Duplicates = _duplicates,
            TooLate = _tooLate,
            History = _history,
            GapsDetected = _tracker.GapsDetected,
            UnrepairedGaps = _tracker.Unrepaired,
            FilledLate = _tracker.FilledLate,
            OpenGapsAtStop = open,
            NacksSent = _nacks,
            NackedSequences = _tracker.NackedSequences,
            FeedbackSent = _feedback,
            SequenceResyncs = _tracker.Resyncs,
            NotSentByRelay = Math.Max(0, span - _deliveredUnique),
            IntegrityErrors = _integrity,
            RepeatedPublisherPackets = _repeatedPublisher,
            WrongChannel = _wrongChannel,
            Malformed = _malformed,
            Foreign = _foreign,
            NegativeDelays = _negative,
            Delay = _delay.Stats(),
        };
    }

    private static long Now() => (long)MonotonicClock.NowNs();

    private static long Ns(TimeSpan t) => t.Ticks * 100;

    public void Dispose() => _socket.Dispose();
}
