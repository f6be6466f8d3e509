using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Protocols.Quic.Streams;

/// <summary>
/// All streams of a connection (RFC 9000 §2–4): id validation and implicit opening, stream limits and MAX_STREAMS
/// credit, stream- and connection-level flow control in both directions (with receive-window auto-tuning), the
/// control frames owed to the peer, round-robin STREAM packing, and ack/loss handling of what was sent.
/// Pure logic: no sockets, threads or clock. The connection calls it from one thread at a time and sets
/// <see cref="Now"/> / <see cref="SmoothedRtt"/> (microseconds) before calls where time matters (reads, for tuning).
/// <para>Kernel fast path (StreamTable.FastPath.cs): streams marked with <see cref="SetFastPathLayout"/> send their new
/// data one STREAM frame per packet in the fixed layout the kernel parses (<see cref="WriteFastPathFrame"/>); their
/// retransmissions go in ordinary packets. Shadow streams (<see cref="BeginKernelForwarding"/>) hold bytes the kernel
/// sends for us from a given offset on; <see cref="OnForwarded"/> / <see cref="OnNotForwarded"/> tell what it did.</para>
/// </summary>
public sealed partial class StreamTable
{
    private readonly StreamTableSettings _settings;
    private readonly bool _isClient;
    private readonly Dictionary<ulong, StreamState> _streams = new();
    // Streams with data (or a FIN) to send, most urgent priority first, round robin within a priority; a stream
    // appears at most once (InSendQueue).
    private readonly StreamSendScheduler _sendQueue = new();
    // Streams owing a stream-level control frame (MAX_STREAM_DATA, RESET_STREAM, STOP_SENDING, STREAM_DATA_BLOCKED).
    private readonly Queue<StreamState> _controlQueue = new();
    private readonly Queue<StreamEvent> _events = new();

    // ---- the peer's limits on what we send
    private ulong _peerMaxData;
    private ulong _peerMaxStreamDataBidiLocal, _peerMaxStreamDataBidiRemote, _peerMaxStreamDataUni;
    private ulong _peerMaxStreamsBidi, _peerMaxStreamsUni;
    private ulong _localOpenedBidi, _localOpenedUni;     // streams we opened, per type
    private ulong _connSent;                             // sum of streams' HighestSent (ours and the kernel's, §4.1)
    private bool _dataBlockedPending;
    private ulong _dataBlockedSentAt = ulong.MaxValue;
    private bool _streamsBlockedBidiPending, _streamsBlockedUniPending;
    private ulong _streamsBlockedBidiSentAt = ulong.MaxValue, _streamsBlockedUniSentAt = ulong.MaxValue;

    // ---- our limits on what the peer sends
    private ulong _localMaxStreamsBidi, _localMaxStreamsUni;   // cumulative counts advertised
    private ulong _peerOpenedBidi, _peerOpenedUni;             // peer streams opened (explicitly or implicitly)
    private bool _maxStreamsBidiPending, _maxStreamsUniPending;
    private ulong _maxStreamsBidiAcked, _maxStreamsUniAcked;
    private ulong _localMaxData;                               // MAX_DATA advertised
    private ulong _connReceived;                               // sum of streams' highest received offsets (§4.1)
    private ulong _connConsumed;                               // credit returned: bytes read, discarded or reset
    private ulong _connWindow;
    private long _connLastUpdate = long.MinValue;
    private bool _maxDataPending;
    private ulong _maxDataAcked;

    private long _rtt;
    private long _now;

    public StreamTable(StreamTableSettings settings)
    {
        _settings = settings;
        _isClient = settings.IsClient;
        _localMaxStreamsBidi = settings.LocalMaxStreamsBidi;
        _localMaxStreamsUni = settings.LocalMaxStreamsUni;
        _localMaxData = settings.LocalInitialMaxData;
        _connWindow = settings.LocalInitialMaxData;
    }

    /// <summary>Smoothed RTT in microseconds, for receive-window auto-tuning.</summary>
    public long SmoothedRtt { set => _rtt = value; }

    /// <summary>Current time in microseconds (the connection's clock), for receive-window auto-tuning.</summary>
    public long Now { set => _now = value; }

    /// <summary>Streams kept until both halves are done; closed ones are removed (peer streams return MAX_STREAMS credit).</summary>
    public int OpenStreamCount => _streams.Count;

    /// <summary>Current connection receive limit we advertised (MAX_DATA).</summary>
    public ulong LocalMaxData => _localMaxData;

    /// <summary>The peer's connection limit on what we send and how much of it we used.</summary>
    public ulong PeerMaxData => _peerMaxData;
    public ulong ConnectionBytesSent => _connSent;

    /// <summary>Stream bytes written by the application (or reported lost / not forwarded) that wait to be sent.</summary>
    public ulong UnsentStreamBytes()
    {
        ulong total = 0;
        foreach (var s in _streams.Values)
            if (s.Send is { } send && !s.ResetSent) total += send.UnsentBytes;
        return total;
    }

    /// <summary>The receive window of a stream (after auto-tuning), or 0 if unknown.</summary>
    public ulong GetReceiveWindow(ulong streamId) => _streams.TryGetValue(streamId, out var s) ? s.ReceiveWindow : 0;

    /// <summary>The peer's transport parameters: initial_max_data, initial_max_stream_data_*, initial_max_streams_*.</summary>
    public void SetPeerLimits(TransportParameters peer)
    {
        _peerMaxData = Math.Max(_peerMaxData, peer.InitialMaxData);
        _peerMaxStreamDataBidiLocal = peer.InitialMaxStreamDataBidiLocal;
        _peerMaxStreamDataBidiRemote = peer.InitialMaxStreamDataBidiRemote;
        _peerMaxStreamDataUni = peer.InitialMaxStreamDataUni;
        RaisePeerMaxStreams(bidi: true, peer.InitialMaxStreamsBidi);
        RaisePeerMaxStreams(bidi: false, peer.InitialMaxStreamsUni);
        foreach (var s in _streams.Values)
        {
            if (s.Send is null) continue;
            s.PeerMaxStreamData = Math.Max(s.PeerMaxStreamData, InitialPeerStreamLimit(s.Id));
            if (s.Send.HasPendingData(s.PeerMaxStreamData)) EnqueueSend(s);
        }
    }

    // ------------------------------------------------------------------ frames received

    /// <summary>STREAM (§19.8).</summary>
    public bool TryOnStream(in StreamFrame frame, out QuicError error)
    {
        ulong type = frame.Type;
        if (!TryGetForFrame(frame.StreamId, receiveHalf: true, type, out var s, out error)) return false;
        if (s is null) return true;   // closed stream: a late retransmission
        var rb = s.Receive!;
        ulong end = frame.End;
        if (end > s.LocalMaxStreamData) return Fail(out error, QuicTransportError.FlowControlError, "stream data beyond MAX_STREAM_DATA", type);
        ulong before = rb.HighestReceived;
        ulong grow = end > before ? end - before : 0;
        if (_connReceived + grow > _localMaxData) return Fail(out error, QuicTransportError.FlowControlError, "stream data beyond MAX_DATA", type);
        if (!rb.TryWrite(frame.Offset, frame.Data.Span, frame.Fin, out error))
        {
            error = error with { FrameType = type };
            return false;
        }
        _connReceived += rb.HighestReceived - before;
        if (s.PeerReset || s.StopSendingRequested)
        {
            // Nobody reads this data: return its connection credit at once.
            CreditConnection(s, rb.HighestReceived);
            TryRemove(s);
            return true;
        }
        if (!s.ReadableSignaled && (rb.Available > 0 || rb.IsFinished))
        {
            s.ReadableSignaled = true;
            _events.Enqueue(new StreamEvent(StreamEventKind.Readable, s.Id));
        }
        return true;
    }

    /// <summary>RESET_STREAM (§19.4): the peer abandoned its send half; the final size still counts for flow control.</summary>
    public bool TryOnResetStream(in ResetStreamFrame frame, out QuicError error)
    {
        ulong type = FrameType.ResetStream;
        if (!TryGetForFrame(frame.StreamId, receiveHalf: true, type, out var s, out error)) return false;
        if (s is null) return true;
        var rb = s.Receive!;
        if (frame.FinalSize > s.LocalMaxStreamData) return Fail(out error, QuicTransportError.FlowControlError, "final size beyond MAX_STREAM_DATA", type);
        ulong before = rb.HighestReceived;
        ulong grow = frame.FinalSize > before ? frame.FinalSize - before : 0;
        if (_connReceived + grow > _localMaxData) return Fail(out error, QuicTransportError.FlowControlError, "final size beyond MAX_DATA", type);
        // An empty write with FIN at the final size applies exactly the §4.5 final-size rules.
        if (!rb.TryWrite(frame.FinalSize, ReadOnlySpan<byte>.Empty, fin: true, out error))
        {
            error = error with { FrameType = type };
            return false;
        }
        _connReceived += rb.HighestReceived - before;
        if (s.PeerReset || s.FinDelivered) return true;   // already over for the application
        s.PeerReset = true;
        s.MaxStreamDataPending = false;
        s.StopSendingPending = false;
        rb.Discard();
        CreditConnection(s, frame.FinalSize);
        _events.Enqueue(new StreamEvent(StreamEventKind.PeerReset, s.Id, frame.ApplicationErrorCode));
        TryRemove(s);
        return true;
    }

    /// <summary>STOP_SENDING (§19.5): answered with RESET_STREAM carrying the peer's code (§3.5).</summary>
    public bool TryOnStopSending(in StopSendingFrame frame, out QuicError error)
    {
        if (!TryGetForFrame(frame.StreamId, receiveHalf: false, FrameType.StopSending, out var s, out error)) return false;
        if (s is null) return true;
        _events.Enqueue(new StreamEvent(StreamEventKind.PeerStopSending, s.Id, frame.ApplicationErrorCode));
        if (!s.ResetSent && !s.Send!.IsFullyAcknowledged) ResetSendHalf(s, frame.ApplicationErrorCode);
        return true;
    }

    /// <summary>MAX_DATA (§19.9): limits only grow; smaller values are ignored.</summary>
    public void OnMaxData(in MaxDataFrame frame)
    {
        if (frame.MaximumData > _peerMaxData) _peerMaxData = frame.MaximumData;
    }

    /// <summary>MAX_STREAM_DATA (§19.10); on a receive-only stream it is a STREAM_STATE_ERROR.</summary>
    public bool TryOnMaxStreamData(in MaxStreamDataFrame frame, out QuicError error)
    {
        if (!TryGetForFrame(frame.StreamId, receiveHalf: false, FrameType.MaxStreamData, out var s, out error)) return false;
        if (s is null || frame.MaximumStreamData <= s.PeerMaxStreamData) return true;
        s.PeerMaxStreamData = frame.MaximumStreamData;
        if (!s.ResetSent && s.Send!.HasPendingData(s.PeerMaxStreamData)) EnqueueSend(s);
        return true;
    }

    /// <summary>MAX_STREAMS (§19.11): counts above 2^60 are a FRAME_ENCODING_ERROR; smaller values are ignored.</summary>
    public bool TryOnMaxStreams(in MaxStreamsFrame frame, out QuicError error)
    {
        if (frame.MaximumStreams > StreamId.MaxCount)
            return Fail(out error, QuicTransportError.FrameEncodingError, "MAX_STREAMS above 2^60", frame.Type);
        RaisePeerMaxStreams(frame.Bidirectional, frame.MaximumStreams);
        error = default;
        return true;
    }

    /// <summary>STREAM_DATA_BLOCKED (§19.13): validates the id and resends our current limit (it may have been lost).</summary>
    public bool TryOnStreamDataBlocked(in StreamDataBlockedFrame frame, out QuicError error)
    {
        if (!TryGetForFrame(frame.StreamId, receiveHalf: true, FrameType.StreamDataBlocked, out var s, out error)) return false;
        if (s is null || s.ReceiveDone || s.StopSendingRequested || s.Receive!.FinalSize is not null) return true;
        MaybeUpdateStreamWindow(s);
        s.MaxStreamDataPending = true;
        EnqueueControl(s);
        return true;
    }

    // ------------------------------------------------------------------ application side

    /// <summary>Opens a stream of ours; false when the peer's MAX_STREAMS is used up (STREAMS_BLOCKED is queued).</summary>
    public bool TryOpenStream(bool bidirectional, out ulong streamId)
    {
        ulong opened = bidirectional ? _localOpenedBidi : _localOpenedUni;
        ulong limit = bidirectional ? _peerMaxStreamsBidi : _peerMaxStreamsUni;
        if (opened >= limit)
        {
            if (bidirectional && _streamsBlockedBidiSentAt != limit) _streamsBlockedBidiPending = true;
            if (!bidirectional && _streamsBlockedUniSentAt != limit) _streamsBlockedUniPending = true;
            streamId = 0;
            return false;
        }
        if (bidirectional) _localOpenedBidi++;
        else _localOpenedUni++;
        streamId = StreamId.Create(opened, _isClient, uni: !bidirectional);
        var s = new StreamState(streamId, new SendBuffer(_settings.SendBufferCapacity),
            bidirectional ? NewReceiveBuffer(_settings.LocalMaxStreamDataBidiLocal) : null)
        {
            PeerMaxStreamData = InitialPeerStreamLimit(streamId),
            FastPathLayout = !bidirectional && _settings.FastPathUnidirectionalStreams,
        };
        InitReceiveWindow(s, _settings.LocalMaxStreamDataBidiLocal);
        _streams.Add(streamId, s);
        return true;
    }

    /// <summary>
    /// Sets a stream's send priority: lower is sent first; streams of equal priority share round robin (all start at 0).
    /// Takes effect from the next packet. Unknown or closed ids are ignored.
    /// </summary>
    public void SetSendPriority(ulong streamId, int priority)
    {
        if (!_streams.TryGetValue(streamId, out var s) || s.Send is null) return;
        _sendQueue.ChangePriority(s, priority);
    }

    /// <summary>
    /// Queues bytes (and FIN once all of <paramref name="data"/> was accepted); returns the bytes accepted (send buffer
    /// space). Throws <see cref="InvalidOperationException"/> for misuse: unknown or closed id, receive-only stream,
    /// writing after FIN or reset.
    /// </summary>
    public int Write(ulong streamId, ReadOnlySpan<byte> data, bool fin)
    {
        var s = GetForApplication(streamId);
        var sb = s.Send ?? throw new InvalidOperationException("stream is receive-only");
        if (s.ResetSent) throw new InvalidOperationException("stream was reset");
        if (sb.IsFinished) throw new InvalidOperationException("write after FIN");
        int n = sb.Write(data);
        if (n < data.Length) s.WantsWritable = true;
        else if (fin) sb.Finish();
        if (n > 0 || sb.IsFinished)
        {
            EnqueueSend(s);
            NoteBlocked(s);
        }
        // Shadow data (kernel fast path) can be acknowledged before it is written: the write may complete the stream.
        if (sb.IsFullyAcknowledged) OnSendHalfAcknowledged(s);
        return n;
    }

    /// <summary>
    /// Reads contiguous bytes; <paramref name="fin"/> = the stream was read to its end. Consuming returns flow-control
    /// credit: MAX_STREAM_DATA / MAX_DATA are queued once half a window is used, and a window doubles (up to its cap)
    /// when updates come less than 2 RTTs apart. Throws for an unknown/closed id, a send-only stream, a stream reset by
    /// the peer or one whose reading was aborted.
    /// </summary>
    public int Read(ulong streamId, Span<byte> destination, out bool fin)
    {
        var s = GetForApplication(streamId);
        var rb = s.Receive ?? throw new InvalidOperationException("stream is send-only");
        if (s.PeerReset) throw new InvalidOperationException("stream was reset by the peer");
        if (s.StopSendingRequested) throw new InvalidOperationException("reading was aborted");
        int n = rb.Read(destination);
        s.ReadableSignaled = false;
        if (n > 0)
        {
            CreditConnection(s, rb.ReadOffset);
            MaybeUpdateStreamWindow(s);
        }
        fin = rb.IsFinished;
        if (fin)
        {
            s.FinDelivered = true;
            TryRemove(s);
        }
        return n;
    }

    /// <summary>
    /// True while the application still has something to read on the stream: contiguous bytes or the FIN. A connection
    /// that closes keeps such a stream readable to that point (data the peer sent before its CONNECTION_CLOSE was
    /// acknowledged, so it must not be lost); false for unknown, reset, aborted and send-only streams.
    /// </summary>
    public bool HasUnreadData(ulong streamId)
    {
        if (!_streams.TryGetValue(streamId, out var s) || s.Receive is not { } rb) return false;
        if (s.PeerReset || s.StopSendingRequested) return false;
        return rb.Available > 0 || (rb.FinalSize is { } size && rb.ReadOffset == size && !s.FinDelivered);
    }

    /// <summary>RESET_STREAM with the final size sent so far; no-op when the send half already completed or was reset.</summary>
    public void ResetStream(ulong streamId, ulong errorCode)
    {
        var s = GetForApplication(streamId);
        var sb = s.Send ?? throw new InvalidOperationException("stream is receive-only");
        if (s.ResetSent || sb.IsFullyAcknowledged) return;
        ResetSendHalf(s, errorCode);
    }

    /// <summary>STOP_SENDING: the application no longer reads; buffered and future data are dropped (credit returned).</summary>
    public void StopSending(ulong streamId, ulong errorCode)
    {
        var s = GetForApplication(streamId);
        var rb = s.Receive ?? throw new InvalidOperationException("stream is send-only");
        if (s.StopSendingRequested || s.ReceiveDone || rb.IsComplete) return;
        s.StopSendingRequested = true;
        s.StopSendingErrorCode = errorCode;
        s.StopSendingPending = true;
        s.MaxStreamDataPending = false;
        rb.Discard();
        CreditConnection(s, rb.HighestReceived);
        EnqueueControl(s);
    }

    public bool TryDequeueEvent(out StreamEvent e) => _events.TryDequeue(out e);

    // ------------------------------------------------------------------ packet building

    /// <summary>Whether <see cref="WriteFrames"/> has something to write (control frames, or STREAM data flow control allows).</summary>
    public bool HasPendingFrames
    {
        get
        {
            if (_maxDataPending || _maxStreamsBidiPending || _maxStreamsUniPending || _dataBlockedPending
                || _streamsBlockedBidiPending || _streamsBlockedUniPending || _controlQueue.Count > 0)
                return true;
            for (int level = 0; level < _sendQueue.LevelCount; level++)
                foreach (var s in _sendQueue.QueueAt(level))
                {
                    if (s.Removed || s.ResetSent) continue;
                    var sb = s.Send!;
                    ulong flowLimit = FlowLimit(s);
                    // A fast-path stream's new data goes in its own packets (WriteFastPathFrame), not in these.
                    if (UsesFastPathLayout(s) ? HasFastPathRetransmission(s, flowLimit) : sb.HasPendingData(flowLimit)) return true;
                }
            return false;
        }
    }

    /// <summary>
    /// Writes control frames (MAX_DATA, MAX_STREAMS, then per stream MAX_STREAM_DATA / RESET_STREAM / STOP_SENDING /
    /// STREAM_DATA_BLOCKED, then DATA_BLOCKED, STREAMS_BLOCKED), then STREAM frames round-robin across streams within
    /// connection-level flow control. Records one <see cref="SentFrame"/> per frame. Returns the bytes written.
    /// </summary>
    public int WriteFrames(Span<byte> destination, List<SentFrame> sentFrames)
    {
        int pos = 0;
        if (_maxDataPending && TryPut(destination, ref pos, new MaxDataFrame(_localMaxData)))
        {
            _maxDataPending = false;
            sentFrames.Add(new SentFrame(FrameType.MaxData, Value: _localMaxData));
        }
        if (_maxStreamsBidiPending && TryPut(destination, ref pos, new MaxStreamsFrame(true, _localMaxStreamsBidi)))
        {
            _maxStreamsBidiPending = false;
            sentFrames.Add(new SentFrame(FrameType.MaxStreamsBidi, Value: _localMaxStreamsBidi));
        }
        if (_maxStreamsUniPending && TryPut(destination, ref pos, new MaxStreamsFrame(false, _localMaxStreamsUni)))
        {
            _maxStreamsUniPending = false;
            sentFrames.Add(new SentFrame(FrameType.MaxStreamsUni, Value: _localMaxStreamsUni));
        }
        WriteStreamControl(destination, ref pos, sentFrames);
        if (_dataBlockedPending)
        {
            if (_connSent < _peerMaxData) _dataBlockedPending = false;   // no longer blocked
            else if (TryPut(destination, ref pos, new DataBlockedFrame(_peerMaxData)))
            {
                _dataBlockedPending = false;
                _dataBlockedSentAt = _peerMaxData;
                sentFrames.Add(new SentFrame(FrameType.DataBlocked, Value: _peerMaxData));
            }
        }
        WriteStreamsBlocked(destination, ref pos, sentFrames, bidi: true);
        WriteStreamsBlocked(destination, ref pos, sentFrames, bidi: false);
        WriteStreamData(destination, ref pos, sentFrames);
        return pos;
    }

    /// <summary>The packet carrying <paramref name="frame"/> was acknowledged.</summary>
    public void OnFrameAcked(in SentFrame frame)
    {
        switch (frame.FrameType)
        {
            case FrameType.Stream:
                if (!_streams.TryGetValue(frame.StreamId, out var s) || s.Send is null) return;
                s.Send.OnAcked(frame.Offset, frame.Length, frame.Fin);
                if (s.WantsWritable && !s.ResetSent && s.Send.FreeSpace >= s.Send.WritableThreshold)
                {
                    s.WantsWritable = false;
                    _events.Enqueue(new StreamEvent(StreamEventKind.Writable, s.Id));
                }
                if (s.Send.IsFullyAcknowledged) OnSendHalfAcknowledged(s);
                else TryRemove(s);
                break;
            case FrameType.ResetStream:
                if (!_streams.TryGetValue(frame.StreamId, out s)) return;
                s.ResetAcked = true;
                s.ResetPending = false;
                TryRemove(s);
                break;
            case FrameType.MaxData:
                _maxDataAcked = Math.Max(_maxDataAcked, frame.Value);
                break;
            case FrameType.MaxStreamData:
                if (_streams.TryGetValue(frame.StreamId, out s)) s.MaxStreamDataAcked = Math.Max(s.MaxStreamDataAcked, frame.Value);
                break;
            case FrameType.MaxStreamsBidi:
                _maxStreamsBidiAcked = Math.Max(_maxStreamsBidiAcked, frame.Value);
                break;
            case FrameType.MaxStreamsUni:
                _maxStreamsUniAcked = Math.Max(_maxStreamsUniAcked, frame.Value);
                break;
        }
    }

    /// <summary>The packet carrying <paramref name="frame"/> was lost: requeue the information with current values.</summary>
    public void OnFrameLost(in SentFrame frame)
    {
        StreamState? s;
        switch (frame.FrameType)
        {
            case FrameType.Stream:
                if (!_streams.TryGetValue(frame.StreamId, out s) || s.Send is null || s.ResetSent) return;
                s.Send.OnLost(frame.Offset, frame.Length, frame.Fin);
                EnqueueSend(s);
                break;
            case FrameType.ResetStream:
                if (!_streams.TryGetValue(frame.StreamId, out s) || s.ResetAcked) return;
                s.ResetPending = true;
                EnqueueControl(s);
                break;
            case FrameType.StopSending:
                if (!_streams.TryGetValue(frame.StreamId, out s) || !s.StopSendingRequested || s.ReceiveDone) return;
                s.StopSendingPending = true;
                EnqueueControl(s);
                break;
            case FrameType.MaxData:
                if (_localMaxData > _maxDataAcked) _maxDataPending = true;
                break;
            case FrameType.MaxStreamData:
                if (!_streams.TryGetValue(frame.StreamId, out s) || !NeedsStreamCredit(s) || s.LocalMaxStreamData <= s.MaxStreamDataAcked) return;
                s.MaxStreamDataPending = true;
                EnqueueControl(s);
                break;
            case FrameType.MaxStreamsBidi:
                if (_localMaxStreamsBidi > _maxStreamsBidiAcked) _maxStreamsBidiPending = true;
                break;
            case FrameType.MaxStreamsUni:
                if (_localMaxStreamsUni > _maxStreamsUniAcked) _maxStreamsUniPending = true;
                break;
            case FrameType.DataBlocked:
                if (frame.Value == _peerMaxData && _connSent >= _peerMaxData) _dataBlockedPending = true;
                break;
            case FrameType.StreamDataBlocked:
                if (!_streams.TryGetValue(frame.StreamId, out s) || s.ResetSent || frame.Value != s.PeerMaxStreamData) return;
                if (!s.Send!.IsBlockedBy(s.PeerMaxStreamData)) return;
                s.BlockedPending = true;
                EnqueueControl(s);
                break;
            case FrameType.StreamsBlockedBidi:
                if (frame.Value == _peerMaxStreamsBidi) _streamsBlockedBidiPending = true;
                break;
            case FrameType.StreamsBlockedUni:
                if (frame.Value == _peerMaxStreamsUni) _streamsBlockedUniPending = true;
                break;
        }
    }

    // ------------------------------------------------------------------ internals

    /// <summary>
    /// Finds the stream a received frame is about, applying §2.1/§3/§4.6: a frame for the half a unidirectional stream
    /// lacks, or for one of our streams not opened yet → STREAM_STATE_ERROR; a peer stream beyond the limit we granted →
    /// STREAM_LIMIT_ERROR; a new peer stream opens it and every lower id of its type. <paramref name="stream"/> is null
    /// for a stream that existed and closed (frames for it are ignored).
    /// </summary>
    private bool TryGetForFrame(ulong id, bool receiveHalf, ulong frameType, out StreamState? stream, out QuicError error)
    {
        stream = null;
        bool local = StreamId.IsClientInitiated(id) == _isClient;
        bool uni = StreamId.IsUnidirectional(id);
        if (uni && local && receiveHalf) return Fail(out error, QuicTransportError.StreamStateError, "receive-side frame for a send-only stream", frameType);
        if (uni && !local && !receiveHalf) return Fail(out error, QuicTransportError.StreamStateError, "send-side frame for a receive-only stream", frameType);
        ulong index = StreamId.Index(id);
        error = default;
        if (local)
        {
            if (index >= (uni ? _localOpenedUni : _localOpenedBidi))
                return Fail(out error, QuicTransportError.StreamStateError, "frame for a locally initiated stream not yet opened", frameType);
            _streams.TryGetValue(id, out stream);
            return true;
        }
        if (index >= (uni ? _localMaxStreamsUni : _localMaxStreamsBidi))
            return Fail(out error, QuicTransportError.StreamLimitError, "peer stream beyond MAX_STREAMS", frameType);
        ulong opened = uni ? _peerOpenedUni : _peerOpenedBidi;
        if (index < opened)
        {
            _streams.TryGetValue(id, out stream);
            return true;
        }
        for (ulong i = opened; i <= index; i++) OpenPeerStream(StreamId.Create(i, client: !_isClient, uni));
        if (uni) _peerOpenedUni = index + 1;
        else _peerOpenedBidi = index + 1;
        stream = _streams[id];
        return true;
    }

    private void OpenPeerStream(ulong id)
    {
        bool uni = StreamId.IsUnidirectional(id);
        ulong window = uni ? _settings.LocalMaxStreamDataUni : _settings.LocalMaxStreamDataBidiRemote;
        var s = new StreamState(id, uni ? null : new SendBuffer(_settings.SendBufferCapacity), NewReceiveBuffer(window))
        {
            PeerMaxStreamData = uni ? 0 : InitialPeerStreamLimit(id),
        };
        InitReceiveWindow(s, window);
        _streams.Add(id, s);
        _events.Enqueue(new StreamEvent(StreamEventKind.PeerOpened, id));
    }

    private ReceiveBuffer NewReceiveBuffer(ulong initialWindow) =>
        // Flow control keeps data within the window, which never exceeds max(initial, cap): the buffer bound is a backstop.
        new(Math.Max(initialWindow, _settings.MaxReceiveWindow), QuicTransportError.FlowControlError);

    private static void InitReceiveWindow(StreamState s, ulong window)
    {
        if (s.Receive is null) return;
        s.ReceiveWindow = window;
        s.LocalMaxStreamData = window;
    }

    /// <summary>The peer's initial limit for a stream: its bidi_local covers streams it opened, bidi_remote ours.</summary>
    private ulong InitialPeerStreamLimit(ulong id)
    {
        if (StreamId.IsUnidirectional(id)) return _peerMaxStreamDataUni;
        bool local = StreamId.IsClientInitiated(id) == _isClient;
        return local ? _peerMaxStreamDataBidiRemote : _peerMaxStreamDataBidiLocal;
    }

    private void RaisePeerMaxStreams(bool bidi, ulong value)
    {
        ref ulong limit = ref bidi ? ref _peerMaxStreamsBidi : ref _peerMaxStreamsUni;
        if (value <= limit) return;
        limit = value;
        _events.Enqueue(new StreamEvent(StreamEventKind.LocalOpenAvailable, bidi ? 0UL : 2UL));
    }

    private StreamState GetForApplication(ulong id) =>
        _streams.TryGetValue(id, out var s) ? s : throw new InvalidOperationException("unknown or closed stream");

    private void ResetSendHalf(StreamState s, ulong errorCode)
    {
        var sb = s.Send!;
        s.ResetSent = true;
        s.ResetPending = true;
        s.ResetErrorCode = errorCode;
        s.ResetFinalSize = sb.HighestSent;   // the peer can only have counted what we (or the kernel for us) sent (§4.5)
        s.BlockedPending = false;
        sb.Discard();
        EnqueueControl(s);
    }

    private static bool NeedsStreamCredit(StreamState s) =>
        s.Receive is { FinalSize: null } && !s.PeerReset && !s.StopSendingRequested;

    /// <summary>Returns connection-level credit for this stream's bytes up to <paramref name="offset"/> (read or dropped).</summary>
    private void CreditConnection(StreamState s, ulong offset)
    {
        if (offset <= s.CreditedOffset) return;
        _connConsumed += offset - s.CreditedOffset;
        s.CreditedOffset = offset;
        MaybeUpdateMaxData();
    }

    /// <summary>
    /// Queues MAX_STREAM_DATA once less than half the window remains. If the previous update was under 2 RTTs ago the
    /// reader keeps up with the window, so it doubles (to MaxReceiveWindow) and the connection window follows to 1.5×.
    /// </summary>
    private void MaybeUpdateStreamWindow(StreamState s)
    {
        if (!NeedsStreamCredit(s)) return;
        var rb = s.Receive!;
        if (s.LocalMaxStreamData - rb.ReadOffset >= s.ReceiveWindow / 2) return;
        if (IsFastUpdate(s.LastWindowUpdate))
        {
            ulong cap = Math.Max(_settings.MaxReceiveWindow, s.ReceiveWindow);
            s.ReceiveWindow = Math.Min(s.ReceiveWindow * 2, cap);
            ulong connWanted = Math.Min(s.ReceiveWindow + s.ReceiveWindow / 2, _settings.MaxConnectionReceiveWindow);
            if (_connWindow < connWanted) _connWindow = connWanted;
        }
        s.LastWindowUpdate = _now;
        s.LocalMaxStreamData = rb.ReadOffset + s.ReceiveWindow;
        s.MaxStreamDataPending = true;
        EnqueueControl(s);
    }

    private void MaybeUpdateMaxData()
    {
        if (_localMaxData - _connConsumed >= _connWindow / 2) return;
        if (IsFastUpdate(_connLastUpdate))
            _connWindow = Math.Min(_connWindow * 2, Math.Max(_settings.MaxConnectionReceiveWindow, _connWindow));
        _connLastUpdate = _now;
        _localMaxData = _connConsumed + _connWindow;
        _maxDataPending = true;
    }

    private bool IsFastUpdate(long last) => last != long.MinValue && _rtt > 0 && _now - last < 2 * _rtt;

    /// <summary>Queues STREAM_DATA_BLOCKED / DATA_BLOCKED when new data waits on a limit we have not reported yet.</summary>
    private void NoteBlocked(StreamState s)
    {
        if (s.ResetSent) return;
        var sb = s.Send!;
        if (sb.IsBlockedBy(s.PeerMaxStreamData))
        {
            if (s.BlockedSentAt != s.PeerMaxStreamData)
            {
                s.BlockedPending = true;
                EnqueueControl(s);
            }
        }
        else if (_connSent >= _peerMaxData && sb.IsBlockedBy(sb.SentOffset) && _dataBlockedSentAt != _peerMaxData)
        {
            _dataBlockedPending = true;
        }
    }

    /// <summary>Every byte and the FIN acknowledged: tell the application once, and drop the stream if both halves are done.</summary>
    private void OnSendHalfAcknowledged(StreamState s)
    {
        if (!s.WritesAckedSignaled)
        {
            s.WritesAckedSignaled = true;
            _events.Enqueue(new StreamEvent(StreamEventKind.WritesAcknowledged, s.Id));
        }
        TryRemove(s);
    }

    private void TryRemove(StreamState s)
    {
        if (s.Removed || !s.SendDone || !s.ReceiveDone) return;
        s.Removed = true;
        _streams.Remove(s.Id);
        s.Send?.Discard();
        s.Receive?.Discard();
        bool local = StreamId.IsClientInitiated(s.Id) == _isClient;
        if (local) return;
        // A closed peer stream returns its MAX_STREAMS credit (§4.6): the peer may open one more of that type.
        if (StreamId.IsUnidirectional(s.Id))
        {
            _localMaxStreamsUni++;
            _maxStreamsUniPending = true;
        }
        else
        {
            _localMaxStreamsBidi++;
            _maxStreamsBidiPending = true;
        }
    }

    private void EnqueueSend(StreamState s)
    {
        if (s.FastPathLayout) EnqueueFastPath(s);
        if (s.InSendQueue || s.Removed) return;
        s.InSendQueue = true;
        _sendQueue.Enqueue(s);
    }

    private void EnqueueControl(StreamState s)
    {
        if (s.InControlQueue || s.Removed) return;
        s.InControlQueue = true;
        _controlQueue.Enqueue(s);
    }

    private void WriteStreamControl(Span<byte> destination, ref int pos, List<SentFrame> sentFrames)
    {
        for (int i = _controlQueue.Count; i > 0; i--)
        {
            var s = _controlQueue.Dequeue();
            s.InControlQueue = false;
            if (s.Removed) continue;
            if (s.MaxStreamDataPending)
            {
                if (!NeedsStreamCredit(s)) s.MaxStreamDataPending = false;
                else if (TryPut(destination, ref pos, new MaxStreamDataFrame(s.Id, s.LocalMaxStreamData)))
                {
                    s.MaxStreamDataPending = false;
                    sentFrames.Add(new SentFrame(FrameType.MaxStreamData, s.Id, Value: s.LocalMaxStreamData));
                }
            }
            if (s.ResetPending && TryPut(destination, ref pos, new ResetStreamFrame(s.Id, s.ResetErrorCode, s.ResetFinalSize)))
            {
                s.ResetPending = false;
                sentFrames.Add(new SentFrame(FrameType.ResetStream, s.Id, Offset: s.ResetFinalSize, Value: s.ResetErrorCode));
            }
            if (s.StopSendingPending && TryPut(destination, ref pos, new StopSendingFrame(s.Id, s.StopSendingErrorCode)))
            {
                s.StopSendingPending = false;
                sentFrames.Add(new SentFrame(FrameType.StopSending, s.Id, Value: s.StopSendingErrorCode));
            }
            if (s.BlockedPending)
            {
                if (s.ResetSent || !s.Send!.IsBlockedBy(s.PeerMaxStreamData)) s.BlockedPending = false;
                else if (TryPut(destination, ref pos, new StreamDataBlockedFrame(s.Id, s.PeerMaxStreamData)))
                {
                    s.BlockedPending = false;
                    s.BlockedSentAt = s.PeerMaxStreamData;
                    sentFrames.Add(new SentFrame(FrameType.StreamDataBlocked, s.Id, Value: s.PeerMaxStreamData));
                }
            }
            if (s.HasControl) EnqueueControl(s);   // did not fit: next packet
        }
    }

    private void WriteStreamsBlocked(Span<byte> destination, ref int pos, List<SentFrame> sentFrames, bool bidi)
    {
        ref bool pending = ref bidi ? ref _streamsBlockedBidiPending : ref _streamsBlockedUniPending;
        if (!pending) return;
        ulong limit = bidi ? _peerMaxStreamsBidi : _peerMaxStreamsUni;
        ulong opened = bidi ? _localOpenedBidi : _localOpenedUni;
        if (opened < limit)
        {
            pending = false;   // credit arrived meanwhile
            return;
        }
        if (!TryPut(destination, ref pos, new StreamsBlockedFrame(bidi, limit))) return;
        pending = false;
        if (bidi) _streamsBlockedBidiSentAt = limit;
        else _streamsBlockedUniSentAt = limit;
        sentFrames.Add(new SentFrame(bidi ? FrameType.StreamsBlockedBidi : FrameType.StreamsBlockedUni, Value: limit));
    }

    /// <summary>
    /// STREAM frames: the most urgent priority level first, one frame per stream per turn rotating through the level
    /// (round robin); a less urgent level gets what room is left once every stream of the levels before it had its turn.
    /// </summary>
    private void WriteStreamData(Span<byte> destination, ref int pos, List<SentFrame> sentFrames)
    {
        for (int level = 0; level < _sendQueue.LevelCount; level++)
            if (!WriteStreamDataAtLevel(level, destination, ref pos, sentFrames)) return;
    }

    /// <summary>One round-robin pass over a priority level; false once the packet is full.</summary>
    private bool WriteStreamDataAtLevel(int level, Span<byte> destination, ref int pos, List<SentFrame> sentFrames)
    {
        var queue = _sendQueue.QueueAt(level);
        int priority = _sendQueue.PriorityAt(level);
        for (int i = queue.Count; i > 0; i--)
        {
            if (destination.Length - pos < 4) return false;   // type + id + length + 1 byte at least
            var s = queue.Dequeue();
            s.InSendQueue = false;
            if (s.Removed || s.ResetSent) continue;
            if (s.SendPriority != priority)
            {
                EnqueueSend(s);   // its priority changed while it waited: move it to its level
                continue;
            }
            var sb = s.Send!;
            ulong flowLimit = FlowLimit(s);
            bool fastPath = UsesFastPathLayout(s);
            if (fastPath ? !HasFastPathRetransmission(s, flowLimit) : !sb.HasPendingData(flowLimit))
            {
                NoteBlocked(s);
                // Blocked by the connection only: stay queued (MAX_DATA does not name streams). Blocked by the stream
                // limit or idle: leave the queue; MAX_STREAM_DATA, a write or a loss puts it back.
                if (!sb.IsBlockedBy(s.PeerMaxStreamData) && sb.IsBlockedBy(flowLimit)) EnqueueSend(s);
                continue;
            }
            int written = WriteStreamFrame(s, destination[pos..], flowLimit, sentFrames, retransmissionOnly: fastPath);
            if (written == 0)
            {
                EnqueueSend(s);
                return false;   // packet full
            }
            pos += written;
            NoteBlocked(s);
            EnqueueSend(s);   // back of the queue; dropped on its next turn if it has nothing left
        }
        return true;
    }

    /// <summary>
    /// One STREAM frame with a Length field. The header size depends on the offset and length chosen by the send
    /// buffer, so the data is taken behind a worst-case header and moved down if the real header is shorter.
    /// Fast path (later): fixed 8-byte id (<c>QuicVarint.Write(.., 8)</c>) and no Length when it is the packet's only frame.
    /// </summary>
    private int WriteStreamFrame(StreamState s, Span<byte> span, ulong flowLimit, List<SentFrame> sentFrames, bool retransmissionOnly = false)
    {
        var sb = s.Send!;
        int idLength = QuicVarint.GetLength(s.Id);
        int maxHeader = 1 + idLength + QuicVarint.GetLength(Math.Max(sb.WrittenLength, sb.HighestSent)) + QuicVarint.GetLength((ulong)span.Length);
        if (span.Length < maxHeader) return 0;
        ulong sentBefore = sb.HighestSent;
        bool taken = retransmissionOnly
            ? sb.TryTakeRetransmission(span[maxHeader..], flowLimit, out ulong offset, out int length, out bool fin)
            : sb.TryTakeNext(span[maxHeader..], flowLimit, out offset, out length, out fin);
        if (!taken) return 0;
        int header = 1 + idLength + (offset != 0 ? QuicVarint.GetLength(offset) : 0) + QuicVarint.GetLength((ulong)length);
        if (header < maxHeader) span.Slice(maxHeader, length).CopyTo(span.Slice(header, length));   // memmove semantics
        span[0] = (byte)(FrameType.Stream | StreamFrame.LenBit | (offset != 0 ? StreamFrame.OffBit : 0u) | (fin ? StreamFrame.FinBit : 0u));
        int p = 1 + QuicVarint.Write(span[1..], s.Id);
        if (offset != 0) p += QuicVarint.Write(span[p..], offset);
        p += QuicVarint.Write(span[p..], (ulong)length);
        _connSent += sb.HighestSent - sentBefore;
        sentFrames.Add(new SentFrame(FrameType.Stream, s.Id, offset, (ulong)length, fin));
        return p + length;
    }

    private static bool TryPut<T>(Span<byte> destination, ref int pos, in T frame) where T : struct, IQuicFrame<T>
    {
        if (frame.EncodedLength > destination.Length - pos) return false;
        pos += frame.Write(destination[pos..]);
        return true;
    }

    private static bool Fail(out QuicError error, QuicTransportError code, string reason, ulong frameType)
    {
        error = new QuicError(code, reason, frameType);
        return false;
    }
}
