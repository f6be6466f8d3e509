using System.Threading.Channels;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Io;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Moq.Relay.FastPath;

/// <summary>A fast-path subscriber of a track: its connection and the track alias the relay gave it.</summary>
public sealed record FastPathTrackSubscriber(FastPathSubscriberConnection Connection, ulong TrackAlias, byte Urgency = 1);

/// <summary>Where an upstream subgroup goes: the track's kernel channel and its fast-path subscribers.</summary>
public sealed record FastPathTrackRoute(uint Channel, IReadOnlyList<FastPathTrackSubscriber> Subscribers);

/// <summary>
/// The publisher side of the glue, as a <see cref="IMoqSubgroupTap"/> on the MoQ session of a publisher connection that
/// negotiated 0xBAAD (a local publisher, or an edge's upstream relay): for each incoming subgroup stream whose track has
/// fast-path subscribers it maps (the connection id the publisher sends to, upstream stream id) to the track's channel,
/// opens each subscriber's stream with the relay's own header (the subscriber's alias), maps it, and writes every
/// upstream byte after the header unchanged as shadow. The session's own parsing and delivery go on as before (the
/// relay still caches the objects).
/// <para>A stream without a route when its header arrives is asked again once, when its first bytes after the header
/// arrive (before the session has parsed, so delivered, any object of it). Publishers open a group's streams ahead,
/// header only, and the first group's stream is opened as soon as the relay's SUBSCRIBE arrives: before the relay has
/// registered the downstream subscriber whose SUBSCRIBE it forwarded. Without the second look that whole group went
/// through userspace — and through userspace at every later hop of a chain too, where the stream arrives as ordinary
/// packets the next kernel cannot forward.</para>
/// </summary>
/// <param name="routed">Told, for every route the tap was given, whether the stream went on the fast path (false: a
/// kernel map refused it, the stream stays with the relay's own delivery).</param>
public sealed class FastPathUpstreamTap(MoqKernelPlane plane, byte[] upstreamConnectionId, Func<MoqSubgroupHeader, FastPathTrackRoute?> route, ILogger log,
    Action<MoqSubgroupHeader, bool>? routed = null)
    : IMoqSubgroupTap
{
    /// <summary>Chunks a tapped stream may queue while its subscribers' streams are written; past it the stream
    /// leaves the fast path (its subscribers' streams are reset) rather than hold unbounded memory.</summary>
    public const int MaxQueuedChunks = 4096;

    private long _tapped;

    /// <summary>Subgroup streams put on the fast path.</summary>
    public long TappedStreams => Interlocked.Read(ref _tapped);

    public IMoqSubgroupStreamTap? OnSubgroupStream(long streamId, MoqSubgroupHeader header, ReadOnlySpan<byte> rawHeader) =>
        (IMoqSubgroupStreamTap?)TryTap(streamId, header, rawHeader.Length) ?? new UnroutedSubgroup(this, streamId, header, rawHeader.Length);

    private UpstreamSubgroup? TryTap(long streamId, MoqSubgroupHeader header, int upstreamHeaderLength)
    {
        FastPathTrackRoute? target = null;
        try
        {
            target = route(header);
            if (target is null || target.Subscribers.Count == 0) return null;
            foreach (var s in target.Subscribers)
                plane.JoinChannel(s.Connection.Slot, target.Channel);
            plane.MapUpstreamStream(upstreamConnectionId, (ulong)streamId, target.Channel);
            Interlocked.Increment(ref _tapped);
            var tap = new UpstreamSubgroup(this, (ulong)streamId, header, upstreamHeaderLength, target);
            routed?.Invoke(header, true);
            return tap;
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or ObjectDisposedException)
        {
            // A full kernel map (a publisher opening streams without end), a subscriber that just left, a plane being
            // shut down: this stream stays on the userspace path; the session must never fail because of the tap.
            log.LogDebug(e, "fast path: upstream subgroup stream {Stream} not tapped", streamId);
            if (target is not null) routed?.Invoke(header, false);
            return null;
        }
    }

    /// <summary>A stream that had no route at its header: one more attempt at its first bytes, then it follows that verdict.</summary>
    private sealed class UnroutedSubgroup(FastPathUpstreamTap owner, long streamId, MoqSubgroupHeader header, int upstreamHeaderLength)
        : IMoqSubgroupStreamTap
    {
        private bool _asked;
        private UpstreamSubgroup? _tap;

        public void OnBytes(long offset, ReadOnlySpan<byte> bytes)
        {
            if (!_asked)
            {
                _asked = true;
                _tap = owner.TryTap(streamId, header, upstreamHeaderLength);
            }
            _tap?.OnBytes(offset, bytes);
        }

        public void OnEnd(bool finished) => _tap?.OnEnd(finished);
    }

    private sealed class UpstreamSubgroup : IMoqSubgroupStreamTap
    {
        private readonly FastPathUpstreamTap _owner;
        private readonly ulong _streamId;
        // Synchronous continuations: a chunk is written to the subscribers' streams on the thread that read it from the
        // upstream (until the first wait), instead of one more thread-pool hand-off per upstream chunk (fast-path relay at
        // fan-out 1: futex calls per 5 s window 7,600 → 5,300-6,200; a wait for room or for the pump still frees it).
        private readonly Channel<(byte[]? Bytes, bool Finished)> _queue =
            Channel.CreateBounded<(byte[]?, bool)>(new BoundedChannelOptions(MaxQueuedChunks) { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = true });

        public UpstreamSubgroup(FastPathUpstreamTap owner, ulong streamId, MoqSubgroupHeader header, int upstreamHeaderLength, FastPathTrackRoute target)
        {
            _owner = owner;
            _streamId = streamId;
            _ = Task.Run(() => RunAsync(header, upstreamHeaderLength, target));
        }

        public void OnBytes(long offset, ReadOnlySpan<byte> bytes)
        {
            if (!_queue.Writer.TryWrite((bytes.ToArray(), false)))
                _queue.Writer.TryComplete(new InvalidOperationException("tapped subgroup stream queue full"));
        }

        public void OnEnd(bool finished)
        {
            _queue.Writer.TryWrite((null, finished));
            _queue.Writer.TryComplete();
        }

        private async Task RunAsync(MoqSubgroupHeader header, int upstreamHeaderLength, FastPathTrackRoute target)
        {
            var streams = new List<FastPathSubgroupStream>();
            var finished = false;
            try
            {
                // Every subscriber's stream first, then all the mappings in one batch (one bpf call, not one per subscriber).
                // A subscriber whose stream cannot be opened (its connection is closing) is left out; the others go on.
                var starts = new List<FastPathSubscriberConnection.SubgroupStart>(target.Subscribers.Count);
                foreach (var s in target.Subscribers)
                {
                    var writer = new MoqWriter(32);
                    (header with { TrackAlias = s.TrackAlias }).Write(writer);
                    try
                    {
                        // A browser's stream starts with the WebTransport stream header its opener wrote (the offset shift).
                        var opened = await s.Connection.Streams.OpenUnidirectionalAsync().ConfigureAwait(false);
                        starts.Add(new(s.Connection, opened, writer.ToArray(), s.Urgency));
                    }
                    catch (Exception e) when (e is QuicException or InvalidOperationException)
                    {
                        _owner.LogSubscriberFailure(e, _streamId, s.Connection.Slot);
                    }
                }
                // Everything after the header goes through the shadow path: what the kernel did not see (bytes that
                // arrived before these mappings) is found by coverage and sent by the relay itself.
                var started = FastPathSubscriberConnection.StartSubgroups(_streamId, upstreamHeaderLength, starts);
                for (var i = 0; i < started.Length; i++)
                {
                    if (started[i] is { } subgroup) streams.Add(subgroup);
                    else Reset(starts[i].Opened);   // its subscriber left the fast path meanwhile
                }
                // The prefixes (our headers) after the mappings, as before: a stream whose write fails leaves alone. One
                // small packet per subscriber: they leave together, in one sendmmsg, at the end (SendCoalescing). A write
                // that has to wait (a full send buffer) sends what was kept first and waits outside the scope.
                var sends = SendCoalescing.Begin();
                try
                {
                    for (var i = 0; i < streams.Count;)
                    {
                        try
                        {
                            var write = streams[i].WritePrefixAsync(CancellationToken.None);
                            if (write.IsCompleted) write.GetAwaiter().GetResult();
                            else
                            {
                                // Ended on this thread before the wait, begun anew on the thread the wait ends on (also when
                                // it throws): a scope is only ever ended by the thread that began it.
                                sends.Dispose();
                                try { await write.ConfigureAwait(false); }
                                finally { sends = SendCoalescing.Begin(); }
                            }
                            i++;
                        }
                        catch (Exception e) when (e is QuicException or InvalidOperationException)
                        {
                            _owner.LogSubscriberFailure(e, _streamId, streams[i].Owner.Slot);
                            Drop(streams, i);
                        }
                    }
                }
                finally
                {
                    sends.Dispose();
                }
                await foreach (var (bytes, fin) in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
                {
                    if (bytes is null)
                    {
                        finished = fin;
                        break;
                    }
                    await _owner.WriteToAllAsync(streams, bytes, fin: false).ConfigureAwait(false);
                }
                if (finished)
                    await _owner.WriteToAllAsync(streams, ReadOnlyMemory<byte>.Empty, fin: true).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                _owner.LogFailure(e, _streamId);
                finished = false;
            }
            finally
            {
                _owner.EndUpstream(_streamId);
                if (!finished && streams.Count > 0)
                {
                    // Every mapping in one batch, then the resets.
                    try { FastPathSubscriberConnection.EndSubgroups(streams); }
                    catch (Exception e) { _owner.LogFailure(e, _streamId); }
                    foreach (var subgroup in streams)
                        try { subgroup.Reset((ulong)MoqStreamResetCode.Cancelled); } catch (QuicException) { }
                }
            }
        }

        private static void Reset(FastPathOpenedStream opened)
        {
            try { opened.Reset((ulong)MoqStreamResetCode.Cancelled); } catch (Exception e) when (e is QuicException or InvalidOperationException) { }
        }
    }

    /// <summary>Takes stream <paramref name="i"/> out of the subgroup (its subscriber's stream failed): its mapping goes
    /// and it is reset; the other subscribers' streams go on.</summary>
    private static void Drop(List<FastPathSubgroupStream> streams, int i)
    {
        var subgroup = streams[i];
        streams.RemoveAt(i);
        subgroup.Abandon();
        try { subgroup.Reset((ulong)MoqStreamResetCode.Cancelled); } catch (Exception e) when (e is QuicException or InvalidOperationException) { }
    }

    /// <summary>One upstream chunk to every subscriber's stream: every shadow write, then one wait for the event pump
    /// (the kernel cloned the chunk's packets for all of them at once), then each stream's coverage check; at the FIN,
    /// every stream's mapping goes in one batch. A stream whose write fails (its subscriber's connection closed, the
    /// subscriber stopped reading it) leaves the subgroup alone.</summary>
    private async Task WriteToAllAsync(List<FastPathSubgroupStream> streams, ReadOnlyMemory<byte> bytes, bool fin)
    {
        if (streams.Count == 0) return;
        var chunks = new ShadowChunk?[streams.Count];
        for (var i = 0; i < streams.Count; i++)
        {
            try { chunks[i] = await streams[i].WriteShadowAsync(bytes, fin, CancellationToken.None).ConfigureAwait(false); }
            catch (Exception e) when (e is QuicException or InvalidOperationException)
            {
                LogSubscriberFailure(e, streams[i].UpstreamStreamId, streams[i].Owner.Slot);
            }
        }
        await plane.DrainedAsync().ConfigureAwait(false);
        // What the kernel did not carry, for every subscriber: their packets leave together (SendCoalescing).
        using (SendCoalescing.Begin())
        {
            for (var i = 0; i < streams.Count; i++)
                if (chunks[i] is { } chunk) streams[i].SendUncoveredRanges(chunk);
            for (var i = streams.Count - 1; i >= 0; i--)
                if (chunks[i] is null) Drop(streams, i);
        }
        if (fin) FastPathSubscriberConnection.EndSubgroups(streams);
    }

    private void LogSubscriberFailure(Exception e, ulong streamId, uint slot) =>
        log.LogDebug(e, "fast path: slot {Slot} left upstream subgroup stream {Stream}; the other subscribers go on", slot, streamId);

    private void EndUpstream(ulong streamId) => plane.UnmapUpstreamStream(upstreamConnectionId, streamId);

    private void LogFailure(Exception e, ulong streamId) =>
        log.LogDebug(e, "fast path: upstream subgroup stream {Stream} left the fast path", streamId);
}
