using FastRelay.Protocols.Quic.Api;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Moq.Relay.FastPath;

/// <summary>
/// One downstream (subscriber) QUIC connection on the kernel fast path: its slot, external packet numbering, the
/// credit the kernel may use on it, and the subgroup streams it receives through the kernel. A connection that
/// negotiated disable_1rtt_encryption (0xBAAD) with an 8-byte connection id qualifies (<see cref="CanUse"/>), and so does
/// one with full 1-RTT protection when the kernel can seal for it (<see cref="CanSeal"/>: an AES-GCM suite, an object with
/// encrypted slots); any other stays entirely on the userspace path.
/// </summary>
public sealed class FastPathSubscriberConnection : IDisposable
{
    /// <summary>
    /// The kernel's counter starts this far past the stack's next number. Between switching the stack to external
    /// numbering and activating the slot, a packet of the stack can leave with its own number; starting the kernel
    /// beyond those keeps every wire number unique (QUIC allows gaps; a duplicate would be discarded by the peer). Such
    /// a packet is never confirmed and is recovered as lost; the peer's ACK of it is accepted (the stack counts the
    /// margin's numbers as its own).
    /// </summary>
    public const ulong NumberingMargin = 16;

    private readonly MoqKernelPlane _plane;
    private readonly QuicConnectionDownstream _sink;
    private readonly ILogger _log;
    private readonly object _lock = new();
    private readonly Dictionary<ulong, FastPathSubgroupStream> _streams = new();
    // What the kernel's maps hold, so a refresh writes only what changed: most refreshes change nothing but the
    // connection credit, and each map write is a syscall (per stream, every 20 ms, per subscriber).
    private readonly Dictionary<ulong, ulong> _writtenStreamLimits = new();
    private ulong _writtenConnectionCredit = ulong.MaxValue;
    private int _disposed;

    private FastPathSubscriberConnection(MoqKernelPlane plane, QuicConnection connection, uint slot, QuicConnectionDownstream sink, ILogger log,
        FastPathStreamOpener streams)
    {
        _plane = plane;
        Connection = connection;
        Streams = streams;
        Slot = slot;
        _sink = sink;
        _log = log;
    }

    public QuicConnection Connection { get; }
    public uint Slot { get; }

    /// <summary>How this subscriber's subgroup streams are opened: raw QUIC, or WebTransport streams of a browser's session.</summary>
    public FastPathStreamOpener Streams { get; }

    /// <summary>Its congestion controller's say over the kernel (budget, drop threshold) and over which subgroups start.</summary>
    public SubscriberCongestion Congestion { get; } = new();
    public MoqKernelPlane Plane => _plane;

    private long _userspaceStreamBytes;

    /// <summary>Subgroup stream bytes of this connection's fast-path streams the relay sent itself: each stream's own
    /// header (with a WebTransport stream's header before it), bytes received before its mapping, ranges the kernel
    /// never saw, and copies the kernel handed back (not forwarded: too big, no credit, over budget).</summary>
    public long UserspaceStreamBytes => Interlocked.Read(ref _userspaceStreamBytes) + _sink.NotForwardedDataBytes;

    /// <summary>Stream bytes the kernel forwarded on this connection (the connection credit it used).</summary>
    public long KernelForwardedBytes => (long)_plane.ConnectionCreditUsed(Slot);

    internal void CountUserspaceBytes(long bytes) => Interlocked.Add(ref _userspaceStreamBytes, bytes);

    /// <summary>The connection can be numbered and written by the kernel: plaintext 1-RTT, 8-byte connection id.</summary>
    public static bool CanUse(QuicConnection connection) =>
        connection.Is1RttEncryptionDisabled && connection.DestinationConnectionId.Length == 8;

    /// <summary>An encrypted connection (no 0xBAAD) with a connection id of at most 8 bytes (browsers use none): the kernel
    /// may seal copies for it (docs/quic-encrypted-fast-path.md). Whether its cipher suite allows it is known only at
    /// activation.</summary>
    public static bool CanSeal(QuicConnection connection) =>
        !connection.Is1RttEncryptionDisabled && connection.DestinationConnectionId.Length <= KernelSealedSlot.MaxConnectionIdLength;

    /// <summary>
    /// Puts the connection on the fast path: segmentation offload off (the kernel rewrites packets one by one),
    /// external numbering on, a slot with <paramref name="address"/>. Returns null when every slot is taken, or when the
    /// kernel makes no copies for the device the subscriber's route leaves through (no egress program there: the relay
    /// was told to attach to other interfaces); the connection then stays on the userspace path, numbering unchanged.
    /// <paramref name="ackFrequency"/> (null: none) is asked of the subscriber once it is on the fast path.
    /// Call after the handshake is confirmed.
    /// </summary>
    /// <paramref name="streams"/> (null: the connection's own QUIC streams) opens its subgroup streams.
    public static FastPathSubscriberConnection? Activate(MoqKernelPlane plane, QuicConnection connection, FastPathSubscriberAddress address, ILogger log,
        FastPathAckFrequency? ackFrequency = null, FastPathStreamOpener? streams = null)
    {
        bool sealing = !CanUse(connection);
        if (sealing && !(CanSeal(connection) && plane.CanSeal))
            throw new InvalidOperationException("the connection did not negotiate disable_1rtt_encryption with an 8-byte connection id, and the kernel cannot seal for it");
        if (plane.FreeSlots == 0 || !plane.ClonesTo(address.IfIndex)) return null;
        var sink = new QuicConnectionDownstream(connection);
        uint? slot;
        if (sealing)
        {
            // The stack numbers its own packets from the slot's counter and seals them itself; the kernel leaves them alone,
            // so segmentation offload may stay as it is. Null: a suite the kernel cannot seal with (userspace serves it).
            slot = plane.AddSealedSubscriber(address, connection, sink);
            if (slot is null) return null;
        }
        else
        {
            connection.AllowSegmentationOffload = false;
            var first = connection.BeginExternalPacketNumbering(NumberingMargin);
            slot = plane.AddSubscriber(address, first, sink);
            if (slot is null)
                throw new InvalidOperationException("fast-path slots ran out while activating (activations must not race)");
        }
        var binding = new FastPathSubscriberConnection(plane, connection, slot.Value, sink, log, streams ?? FastPathStreamOpener.Quic(connection));
        binding.RefreshCredit();
        // The congestion budget: on (no stream is mapped yet, so nothing is sent against it), then credited at once with
        // the window's room and afterwards with every change of it.
        plane.StartCongestionBudget(binding.Slot);
        connection.ObserveFastPathRoom(delta => plane.CreditCongestionBudget(binding.Slot, delta));
        connection.OnRegistrationWanted(plane.WakePump);
        plane.FollowCredit(slot.Value, binding);
        // Fewer ACKs from the subscriber: they are the per-packet userspace work left on the fast path (FastPathAckFrequency).
        ackFrequency?.TryRequest(connection, log);
        return binding;
    }

    /// <summary>
    /// Starts the subscriber's copy of one upstream subgroup stream on <paramref name="stream"/> (a unidirectional stream
    /// the relay opened on this connection). <paramref name="ownHeader"/> is the subgroup header the relay writes for this
    /// subscriber (its track alias); <paramref name="upstreamHeaderLength"/> the length of the publisher's;
    /// <paramref name="receivedAfterHeader"/> the upstream bytes after the header already received (userspace sends
    /// those; the kernel forwards from there on); <paramref name="framingLength"/> the bytes of transport framing already
    /// written at the stream's start (a WebTransport stream header, <see cref="FastPathOpenedStream"/>). Not calling this
    /// for a subgroup is the priority decision "userspace serves or skips it".
    /// </summary>
    public FastPathSubgroupStream StartSubgroup(QuicStream stream, ulong upstreamStreamId, ReadOnlyMemory<byte> ownHeader, int upstreamHeaderLength,
        ReadOnlyMemory<byte> receivedAfterHeader, byte urgency, int framingLength = 0, Action<ulong>? reset = null)
    {
        var (subgroup, mapping) = PrepareSubgroup(stream, upstreamStreamId, ownHeader, upstreamHeaderLength, receivedAfterHeader, urgency, framingLength, reset);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            _plane.MapStream(Slot, upstreamStreamId, mapping.DownstreamStreamId, mapping.OffsetDelta, mapping.ForwardFrom, mapping.Limit, urgency);
            _streams[upstreamStreamId] = subgroup;
            _writtenStreamLimits[upstreamStreamId] = mapping.Limit;
        }
        return subgroup;
    }

    /// <summary><see cref="StartSubgroup(QuicStream, ulong, ReadOnlyMemory{byte}, int, ReadOnlyMemory{byte}, byte, int, Action{ulong})"/>
    /// on a stream <see cref="Streams"/> opened.</summary>
    public FastPathSubgroupStream StartSubgroup(FastPathOpenedStream opened, ulong upstreamStreamId, ReadOnlyMemory<byte> ownHeader, int upstreamHeaderLength,
        ReadOnlyMemory<byte> receivedAfterHeader, byte urgency) =>
        StartSubgroup(opened.Stream, upstreamStreamId, ownHeader, upstreamHeaderLength, receivedAfterHeader, urgency, opened.FramingLength, opened.Reset);

    /// <summary>One subscriber's stream in <see cref="StartSubgroups"/>: its connection, the stream its opener opened, the
    /// relay's own subgroup header for it (its track alias) and the subgroup's urgency.</summary>
    public readonly record struct SubgroupStart(FastPathSubscriberConnection Connection, FastPathOpenedStream Opened, ReadOnlyMemory<byte> OwnHeader, byte Urgency);

    /// <summary>
    /// <see cref="StartSubgroup(FastPathOpenedStream, ulong, ReadOnlyMemory{byte}, int, ReadOnlyMemory{byte}, byte)"/> for
    /// every subscriber of one upstream subgroup stream, the kernel mappings written together in one batch
    /// (<see cref="MoqKernelPlane.MapStreams"/>: one bpf call for all of them, not one each). Per subscriber as there: the
    /// shadow begins and coverage is tracked before the mapping; the caller writes each prefix after this returns.
    /// Result i is null when subscriber i left the fast path (its binding was disposed): the caller resets that stream.
    /// A stream the kernel did not map (fr_streams full) is still returned: nothing of it is forwarded, so coverage finds
    /// every range uncovered and the relay sends the whole stream itself (userspace), as for bytes the kernel never saw.
    /// </summary>
    public static FastPathSubgroupStream?[] StartSubgroups(ulong upstreamStreamId, int upstreamHeaderLength, IReadOnlyList<SubgroupStart> starts)
    {
        var result = new FastPathSubgroupStream?[starts.Count];
        var mappings = new MoqKernelPlane.StreamMapping[starts.Count];
        for (var i = 0; i < starts.Count; i++)
        {
            var s = starts[i];
            if (Volatile.Read(ref s.Connection._disposed) != 0) continue;
            try
            {
                (result[i], mappings[i]) = s.Connection.PrepareSubgroup(s.Opened.Stream, upstreamStreamId, s.OwnHeader, upstreamHeaderLength,
                    ReadOnlyMemory<byte>.Empty, s.Urgency, s.Opened.FramingLength, s.Opened.Reset);
            }
            catch (Exception e) when (e is QuicException or InvalidOperationException)
            {
                // Its connection closed meanwhile: it leaves this subgroup, the others go on.
                s.Connection._log.LogDebug(e, "fast path: slot {Slot} left before upstream stream {Stream} started", s.Connection.Slot, upstreamStreamId);
            }
        }
        var mapped = new bool[starts.Count];
        // One batch per plane (a relay has one; subscribers of different planes each get theirs).
        foreach (var plane in starts.Select(s => s.Connection._plane).Distinct())
        {
            var batch = new List<MoqKernelPlane.StreamMapping>();
            var at = new List<int>();
            for (var i = 0; i < starts.Count; i++)
                if (result[i] is not null && starts[i].Connection._plane == plane)
                {
                    batch.Add(mappings[i]);
                    at.Add(i);
                }
            var done = new bool[batch.Count];
            plane.MapStreams(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(batch), done);
            for (var j = 0; j < at.Count; j++)
                mapped[at[j]] = done[j];
        }
        for (var i = 0; i < starts.Count; i++)
            if (result[i] is { } subgroup && !starts[i].Connection.Register(subgroup, mapped[i], mappings[i].Limit))
                result[i] = null;
        return result;
    }

    /// <summary>What every start does before its mapping: the shadow from the downstream offset where the kernel takes
    /// over, the subgroup stream, coverage tracking; returns the mapping to write (owner: this connection's sink).</summary>
    private (FastPathSubgroupStream Subgroup, MoqKernelPlane.StreamMapping Mapping) PrepareSubgroup(QuicStream stream, ulong upstreamStreamId,
        ReadOnlyMemory<byte> ownHeader, int upstreamHeaderLength, ReadOnlyMemory<byte> receivedAfterHeader, byte urgency, int framingLength, Action<ulong>? reset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(framingLength);
        var forwardFrom = (ulong)(upstreamHeaderLength + receivedAfterHeader.Length);
        // Upstream offset + delta = downstream offset: the framing and our header stand where the publisher's header stood.
        var delta = (long)framingLength + ownHeader.Length - upstreamHeaderLength;
        // Shadow from the downstream offset where the kernel takes over; must precede any write there and the mapping.
        stream.BeginKernelForwarding(framingLength + ownHeader.Length + receivedAfterHeader.Length);
        var limit = Connection.GetFastPathCredit(stream.Id).StreamLimit;
        var subgroup = new FastPathSubgroupStream(this, stream, upstreamStreamId, ownHeader, receivedAfterHeader, framingLength,
            reset ?? (code => stream.Abort(QuicAbortDirection.Write, (long)code)));
        _sink.TrackCoverage((ulong)stream.Id);
        return (subgroup, new MoqKernelPlane.StreamMapping(Slot, _sink, upstreamStreamId, (ulong)stream.Id, delta, forwardFrom, limit, urgency));
    }

    /// <summary>After <see cref="StartSubgroups"/>' batch: the connection's record of a mapped subgroup (its stream limit as
    /// written). False when the connection left the fast path meanwhile (its Dispose removed the slot's mappings).</summary>
    private bool Register(FastPathSubgroupStream subgroup, bool mapped, ulong limit)
    {
        lock (_lock)
        {
            if (_disposed != 0)
            {
                _sink.StopCoverage((ulong)subgroup.Stream.Id);
                return false;
            }
            subgroup.Mapped = mapped;
            // Only a mapped stream is the connection's to refresh and unmap; an unmapped one is all userspace's.
            if (mapped)
            {
                _streams[subgroup.UpstreamStreamId] = subgroup;
                _writtenStreamLimits[subgroup.UpstreamStreamId] = limit;
            }
            return true;
        }
    }

    /// <summary>The subgroup stream ended (or was abandoned): its record, its kernel mapping and its coverage go.</summary>
    internal static void EndSubgroup(FastPathSubgroupStream subgroup) => EndSubgroups([subgroup]);

    /// <summary>
    /// <see cref="EndSubgroup"/> for the subgroup streams of one upstream stream (any connections), with one map write for
    /// all their mappings (<see cref="MoqKernelPlane.UnmapStreams"/>): each connection's record goes under its lock as
    /// there, then the batch delete, then coverage stops. A connection that left meanwhile has nothing left to remove (its
    /// Dispose took the slot's mappings), and the plane leaves alone a slot that serves another connection by then.
    /// </summary>
    internal static void EndSubgroups(IReadOnlyList<FastPathSubgroupStream> subgroups)
    {
        List<(MoqKernelPlane Plane, MoqKernelPlane.StreamUnmapping Unmapping)>? unmap = null;
        foreach (var subgroup in subgroups)
        {
            var owner = subgroup.Owner;
            lock (owner._lock)
            {
                // Only this very subgroup's record (another stream of the connection may have the same upstream id).
                if (owner._streams.TryGetValue(subgroup.UpstreamStreamId, out var held) && held == subgroup)
                {
                    owner._streams.Remove(subgroup.UpstreamStreamId);
                    owner._writtenStreamLimits.Remove(subgroup.UpstreamStreamId);
                    (unmap ??= []).Add((owner._plane, new MoqKernelPlane.StreamUnmapping(owner.Slot, owner._sink, subgroup.UpstreamStreamId)));
                }
            }
        }
        if (unmap is not null)
            foreach (var group in unmap.GroupBy(u => u.Plane))
                group.Key.UnmapStreams(group.Select(u => u.Unmapping).ToArray());
        // After the mappings went: events of the stream's last copies are still covered until then.
        foreach (var subgroup in subgroups)
            subgroup.Owner._sink.StopCoverage((ulong)subgroup.Stream.Id);
    }

    internal QuicConnectionDownstream Sink => _sink;

    /// <summary>
    /// Follows the peer's flow control. Stream limits: the peer's MAX_STREAM_DATA (only the kernel and the shadow
    /// stream send on a mapped stream past forward-from, and the stack's resends stay below what was sent). Connection
    /// credit: the kernel's total = what it used + half of what the connection has left after the bytes the kernel
    /// forwarded but the connection has not registered yet; the other half stays for the stack's own sends (headers,
    /// not-forwarded ranges, control), which it checks against MAX_DATA without knowing the kernel's unregistered bytes.
    /// </summary>
    private void RefreshCredit()
    {
        lock (_lock)
        {
            if (NextConnectionCredit(_plane.ConnectionCreditUsed(Slot)) is { } credit)
                _plane.SetConnectionCredit(Slot, credit);
        }
    }

    /// <summary>
    /// <see cref="RefreshCredit"/> given the kernel's used count, except that the connection credit is returned for the
    /// caller to write (null: unchanged, or the connection left the fast path); the stream limits are written here.
    /// </summary>
    internal ulong? NextConnectionCredit(ulong used)
    {
        lock (_lock)
        {
            if (_disposed != 0) return null;
            var unregistered = used > (ulong)_sink.RegisteredDataBytes ? used - (ulong)_sink.RegisteredDataBytes : 0;
            FastPathCredit credit = default;
            var any = false;
            foreach (var (upstream, subgroup) in _streams)
            {
                credit = Connection.GetFastPathCredit(subgroup.Stream.Id);
                any = true;
                if (credit.StreamLimit > 0 && _writtenStreamLimits.GetValueOrDefault(upstream) != credit.StreamLimit
                    && _plane.UpdateStreamLimit(Slot, upstream, credit.StreamLimit))
                    _writtenStreamLimits[upstream] = credit.StreamLimit;
            }
            if (!any) credit = Connection.GetFastPathCredit(-1);
            var left = credit.ConnectionRemaining > unregistered ? credit.ConnectionRemaining - unregistered : 0;
            var total = used + left / 2;
            if (total == _writtenConnectionCredit) return null;
            _writtenConnectionCredit = total;
            return total;
        }
    }

    /// <summary>The urgency level from which the kernel must not send now (see <see cref="SubscriberCongestion"/>), for
    /// the caller to write; null when the connection left the fast path.</summary>
    internal uint? NextDropFromLevel()
    {
        lock (_lock)
            return _disposed != 0 ? null : Congestion.Update(Connection.GetPathStatistics());
    }

    /// <summary>No more budget credits from the connection (the slot is going, or the plane's memory).</summary>
    internal void StopObservingRoom()
    {
        Connection.ObserveFastPathRoom(null);
        Connection.OnRegistrationWanted(null);
    }

    /// <summary>Leaves the fast path: the slot and every mapping go (the connection itself is the caller's).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed != 0) return;
            _disposed = 1;
            _streams.Clear();
            StopObservingRoom();
            _plane.StopFollowingCredit(Slot, this);
            _plane.RemoveSubscriber(Slot);
        }
    }
}

/// <summary>A chunk of a subgroup stream written as shadow: downstream offsets [Start, End), and whether it ended the stream.</summary>
public readonly record struct ShadowChunk(ulong Start, ulong End, bool Fin);

/// <summary>
/// A subscriber's downstream copy of one upstream subgroup stream: the relay's own header and the bytes received
/// before the mapping went out normally; every later upstream byte is written as shadow (<see cref="WriteUpstreamAsync"/>):
/// the kernel sends it, the stream keeps it for retransmission and sends only ranges the kernel reports not forwarded.
/// </summary>
public sealed class FastPathSubgroupStream
{
    private readonly FastPathSubscriberConnection _owner;
    private readonly ReadOnlyMemory<byte> _prefix;
    private bool _prefixWritten;
    private ulong _nextOffset;

    private readonly Action<ulong> _reset;

    internal FastPathSubgroupStream(FastPathSubscriberConnection owner, QuicStream stream, ulong upstreamStreamId, ReadOnlyMemory<byte> ownHeader,
        ReadOnlyMemory<byte> receivedAfterHeader, int framingLength, Action<ulong> reset)
    {
        _owner = owner;
        _reset = reset;
        Stream = stream;
        UpstreamStreamId = upstreamStreamId;
        var prefix = new byte[ownHeader.Length + receivedAfterHeader.Length];
        ownHeader.CopyTo(prefix);
        receivedAfterHeader.CopyTo(prefix.AsMemory(ownHeader.Length));
        _prefix = prefix;
        _framingLength = framingLength;
        _nextOffset = (ulong)(framingLength + prefix.Length);
    }

    // The transport's stream header the opener already wrote (WebTransport): userspace bytes too.
    private readonly int _framingLength;

    public QuicStream Stream { get; }
    public ulong UpstreamStreamId { get; }
    internal FastPathSubscriberConnection Owner => _owner;

    /// <summary>The kernel forwards the stream (false: its mapping was refused, fr_streams full, and the relay sends all
    /// of it itself).</summary>
    public bool Mapped { get; internal set; } = true;

    /// <summary>Sends the header and the bytes received before the mapping (userspace's part of the stream).</summary>
    public async ValueTask WritePrefixAsync(CancellationToken cancellationToken)
    {
        if (_prefixWritten) return;
        _prefixWritten = true;
        await Stream.WriteAsync(_prefix, cancellationToken).ConfigureAwait(false);
        _owner.CountUserspaceBytes(_framingLength + _prefix.Length);
    }

    /// <summary>
    /// Upstream bytes received after the mapping, in order, as the shadow copy; <paramref name="fin"/> when the upstream
    /// stream ended. Then waits for the event pump to catch up and sends itself whatever part of these bytes the kernel
    /// neither forwarded nor reported: bytes that reached the relay in ordinary packets (a publisher's retransmission,
    /// data that arrived before the mapping existed) were never seen by the kernel. For several subscribers of one chunk,
    /// <see cref="WriteShadowAsync"/> each, one <see cref="MoqKernelPlane.DrainedAsync"/>, then <see cref="SendUncovered"/>
    /// each: one pump round trip per chunk instead of one per subscriber.
    /// </summary>
    public async ValueTask WriteUpstreamAsync(ReadOnlyMemory<byte> bytes, bool fin, CancellationToken cancellationToken)
    {
        var written = await WriteShadowAsync(bytes, fin, cancellationToken).ConfigureAwait(false);
        await _owner.Plane.DrainedAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        SendUncovered(written);
    }

    /// <summary>Writes the chunk as shadow; returns what <see cref="SendUncovered"/> needs once the pump has caught up.</summary>
    public async ValueTask<ShadowChunk> WriteShadowAsync(ReadOnlyMemory<byte> bytes, bool fin, CancellationToken cancellationToken)
    {
        await WritePrefixAsync(cancellationToken).ConfigureAwait(false);
        var start = _nextOffset;
        _nextOffset += (ulong)bytes.Length;
        await Stream.WriteAsync(bytes, completeWrites: fin, cancellationToken).ConfigureAwait(false);
        return new ShadowChunk(start, _nextOffset, fin);
    }

    /// <summary>After the pump drained: reports the chunk's ranges the kernel never accounted for, so the stream sends
    /// them itself; a FIN ends the subgroup's mapping.</summary>
    public void SendUncovered(ShadowChunk chunk)
    {
        SendUncoveredRanges(chunk);
        if (chunk.Fin) FastPathSubscriberConnection.EndSubgroup(this);
    }

    /// <summary><see cref="SendUncovered"/> without ending the mapping at a FIN: for a caller that ends the subgroup
    /// streams of one upstream stream together (<see cref="FastPathSubscriberConnection.EndSubgroups"/>).</summary>
    internal void SendUncoveredRanges(ShadowChunk chunk)
    {
        var streamId = (ulong)Stream.Id;
        var gaps = _owner.Sink.Uncovered(streamId, chunk.Start, chunk.End);
        foreach (var (s, e) in gaps)
            _owner.Connection.ReportNotForwarded(streamId, s, e - s, chunk.Fin && e == chunk.End);
        // A FIN of its own (the upstream's FIN came after its last data): the stream sends it unless the kernel's copy of the
        // publisher's FIN-only packet already did (SendBuffer.OnNotForwarded; before, one FIN packet per subscriber and
        // subgroup that the subscriber already had: at fan-out 64 a fifth of the relay's sendmsg calls).
        if (chunk.Start == chunk.End && chunk.Fin)
            _owner.Connection.ReportNotForwarded(streamId, chunk.Start, 0, true);
        if (gaps.Count > 0) _owner.CountUserspaceBytes(gaps.Sum(g => (long)(g.End - g.Start)));
    }

    /// <summary>The upstream stream was reset: the kernel forwards nothing more; resetting the downstream is the caller's.</summary>
    public void Abandon() => FastPathSubscriberConnection.EndSubgroup(this);

    /// <summary>Resets the downstream stream with a MoQ stream error code, in its transport's code space (WebTransport
    /// maps it into HTTP/3's).</summary>
    public void Reset(ulong code) => _reset(code);
}
