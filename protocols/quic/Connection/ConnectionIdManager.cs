using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Protocols.Quic.Connection;

/// <summary>
/// Both sets of connection ids of one connection (RFC 9000 §5.1): the ids we issued (the peer addresses us with them,
/// the endpoint routes by them) and the ids the peer issued (we address it with one at a time).
/// <para>Design room for the relay fast path: ids that carry a priority byte (<see cref="ConnectionId.WithPriority"/>)
/// with one per priority always available would be issued here — <see cref="Issue"/> is the single place ids are made,
/// and <see cref="IConnectionIdListener"/> is the callback when they change.</para>
/// </summary>
public sealed class ConnectionIdManager
{
    private sealed class LocalId(ulong sequence, ConnectionId id, UInt128 token)
    {
        public ulong Sequence { get; } = sequence;
        public ConnectionId Id { get; } = id;
        public UInt128 Token { get; } = token;
        /// <summary>A NEW_CONNECTION_ID still has to be (re)sent for it.</summary>
        public bool AnnouncePending { get; set; }
    }

    private sealed class PeerId(ulong sequence, ConnectionId id, UInt128? token)
    {
        public ulong Sequence { get; } = sequence;
        public ConnectionId Id { get; } = id;
        public UInt128? Token { get; } = token;
    }

    /// <summary>
    /// RETIRE_CONNECTION_ID frames owed and not yet acknowledged. A peer that keeps raising Retire Prior To while our
    /// frames cannot leave (or are never acknowledged) would otherwise grow the queue without bound — quic-go's
    /// CVE-2024-22189. An honest peer retires a few ids at a time, at most its active_connection_id_limit per step.
    /// </summary>
    public const int MaxUnacknowledgedRetirements = 32;

    private readonly List<LocalId> _local = [];
    private readonly List<PeerId> _peer = [];
    private readonly Queue<ulong> _retireToSend = new();
    private readonly StatelessResetKey _resetKey;
    private readonly int _localLength;
    private readonly IConnectionIdListener _listener;
    private ulong _nextLocalSequence;
    private ulong _peerRetirePriorTo;
    private int _activeCurrent;
    private int _retirementsUnacknowledged;

    public ConnectionIdManager(ConnectionId initialLocal, ConnectionId initialPeer, StatelessResetKey resetKey, int localLength,
        IConnectionIdListener listener)
    {
        _resetKey = resetKey;
        _localLength = localLength;
        _listener = listener;
        _local.Add(new LocalId(_nextLocalSequence++, initialLocal, resetKey.TokenFor(initialLocal)));
        _listener.OnIssued(initialLocal);
        _peer.Add(new PeerId(0, initialPeer, null));
    }

    /// <summary>The peer id we currently put in the Destination Connection ID field.</summary>
    public ConnectionId Destination => _peer[_activeCurrent].Id;

    /// <summary>Our first id: the Source Connection ID of our long headers.</summary>
    public ConnectionId InitialLocal => _local.Count > 0 ? _local[0].Id : default;

    /// <summary>Client only, before the server's first packet: its chosen id replaces the one we guessed (§7.2).</summary>
    public void ReplaceInitialPeer(in ConnectionId id) => _peer[0] = new PeerId(0, id, _peer[0].Token);

    /// <summary>The server's stateless_reset_token transport parameter belongs to the id it used in the handshake (sequence 0).</summary>
    public void SetInitialPeerResetToken(UInt128 token) => _peer[0] = new PeerId(0, _peer[0].Id, token);

    /// <summary>Issue fresh ids until the peer holds <paramref name="count"/> of ours (bounded by its active_connection_id_limit).</summary>
    public void IssueUpTo(int count)
    {
        while (_local.Count < count) Issue();
    }

    private void Issue()
    {
        var id = ConnectionId.Random(_localLength);
        _local.Add(new LocalId(_nextLocalSequence++, id, _resetKey.TokenFor(id)) { AnnouncePending = true });
        _listener.OnIssued(id);
    }

    public bool HasPendingFrames
    {
        get
        {
            if (_retireToSend.Count > 0) return true;
            foreach (var id in _local) if (id.AnnouncePending) return true;
            return false;
        }
    }

    /// <summary>Writes pending NEW_CONNECTION_ID / RETIRE_CONNECTION_ID frames; records their sequence numbers.</summary>
    public int WriteFrames(Span<byte> destination, List<Recovery.SentFrame> sent)
    {
        int written = 0;
        while (_retireToSend.Count > 0)
        {
            var frame = new RetireConnectionIdFrame(_retireToSend.Peek());
            if (frame.EncodedLength > destination.Length - written) return written;
            written += frame.Write(destination[written..]);
            sent.Add(new Recovery.SentFrame(FrameType.RetireConnectionId, Value: frame.SequenceNumber));
            _retireToSend.Dequeue();
        }
        foreach (var id in _local)
        {
            if (!id.AnnouncePending) continue;
            var frame = new NewConnectionIdFrame(id.Sequence, 0, id.Id, id.Token);
            if (frame.EncodedLength > destination.Length - written) return written;
            written += frame.Write(destination[written..]);
            sent.Add(new Recovery.SentFrame(FrameType.NewConnectionId, Value: id.Sequence));
            id.AnnouncePending = false;
        }
        return written;
    }

    public void OnFrameAcked(in Recovery.SentFrame frame)
    {
        if (frame.FrameType == FrameType.RetireConnectionId && _retirementsUnacknowledged > 0) _retirementsUnacknowledged--;
    }

    public void OnFrameLost(in Recovery.SentFrame frame)
    {
        if (frame.FrameType == FrameType.RetireConnectionId) _retireToSend.Enqueue(frame.Value);
        else if (frame.FrameType == FrameType.NewConnectionId)
            foreach (var id in _local)
                if (id.Sequence == frame.Value) id.AnnouncePending = true;
    }

    /// <summary>RETIRE_CONNECTION_ID from the peer: forget that id of ours and issue a replacement (§19.16).</summary>
    public bool TryOnRetire(in RetireConnectionIdFrame frame, ReadOnlySpan<byte> packetDestination, out QuicError error)
    {
        if (frame.SequenceNumber >= _nextLocalSequence)
        {
            error = QuicError.Protocol("RETIRE_CONNECTION_ID for a sequence number never issued", FrameType.RetireConnectionId);
            return false;
        }
        for (int i = 0; i < _local.Count; i++)
        {
            if (_local[i].Sequence != frame.SequenceNumber) continue;
            if (_local[i].Id.Span.SequenceEqual(packetDestination))
            {
                error = QuicError.Protocol("RETIRE_CONNECTION_ID retires the id the packet was sent to", FrameType.RetireConnectionId);
                return false;
            }
            int limit = _local.Count;
            _listener.OnRetired(_local[i].Id);
            _local.RemoveAt(i);
            IssueUpTo(limit);
            break;
        }
        error = default;
        return true;
    }

    /// <summary>NEW_CONNECTION_ID from the peer (§19.15): store, honour Retire Prior To, enforce our active_connection_id_limit.</summary>
    public bool TryOnNewConnectionId(in NewConnectionIdFrame frame, int activeLimit, out QuicError error)
    {
        error = default;
        if (Destination.IsEmpty)
        {
            error = QuicError.Protocol("NEW_CONNECTION_ID while using a zero-length connection id", FrameType.NewConnectionId);
            return false;
        }
        foreach (var known in _peer)
        {
            if (known.Sequence == frame.SequenceNumber)
            {
                if (!known.Id.Equals(frame.ConnectionId) || known.Token != frame.StatelessResetToken)
                {
                    error = QuicError.Protocol("NEW_CONNECTION_ID reuses a sequence number with different contents", FrameType.NewConnectionId);
                    return false;
                }
                return true;
            }
        }
        if (frame.SequenceNumber < _peerRetirePriorTo)
        {
            return TryOweRetirement(frame.SequenceNumber, out error);
        }
        _peer.Add(new PeerId(frame.SequenceNumber, frame.ConnectionId, frame.StatelessResetToken));
        if (frame.RetirePriorTo > _peerRetirePriorTo)
        {
            _peerRetirePriorTo = frame.RetirePriorTo;
            var current = _peer[_activeCurrent];
            for (int i = _peer.Count - 1; i >= 0; i--)
            {
                if (_peer[i].Sequence >= _peerRetirePriorTo) continue;
                ulong retired = _peer[i].Sequence;
                _peer.RemoveAt(i);
                if (!TryOweRetirement(retired, out error)) return false;
            }
            int index = _peer.FindIndex(p => p.Sequence == current.Sequence);
            _activeCurrent = index >= 0 ? index : 0;
        }
        if (_peer.Count > activeLimit)
        {
            error = new QuicError(QuicTransportError.ConnectionIdLimitError, "peer exceeded our active_connection_id_limit", FrameType.NewConnectionId);
            return false;
        }
        return true;
    }

    private bool TryOweRetirement(ulong sequence, out QuicError error)
    {
        if (++_retirementsUnacknowledged > MaxUnacknowledgedRetirements)
        {
            error = new QuicError(QuicTransportError.ConnectionIdLimitError, "too many connection ids retired without acknowledgement", FrameType.NewConnectionId);
            return false;
        }
        _retireToSend.Enqueue(sequence);
        error = default;
        return true;
    }

    /// <summary>Whether a datagram's last 16 bytes are a stateless reset token of the peer (§10.3.1).</summary>
    public bool IsStatelessReset(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length < StatelessResetKey.MinimumPacketLength) return false;
        var token = System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(datagram[^StatelessResetKey.TokenLength..]);
        foreach (var peer in _peer)
            if (peer.Token is { } known && known == token) return true;
        return false;
    }

    /// <summary>Every id of ours still routed to this connection (to unregister them when it ends).</summary>
    public void RetireAllLocal()
    {
        foreach (var id in _local) _listener.OnRetired(id.Id);
        _local.Clear();
    }
}

/// <summary>The endpoint's routing table hears about every id a connection issues or retires.</summary>
public interface IConnectionIdListener
{
    void OnIssued(in ConnectionId id);
    void OnRetired(in ConnectionId id);
}
