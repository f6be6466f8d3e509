using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Protocols.Quic.Streams;

// The kernel fast path's view of streams (issue 11, prompts/contract.md):
// - publisher side: a stream's new data leaves one STREAM frame per packet in a fixed layout a TC program can parse
//   and rewrite at fixed offsets (8-byte stream id, 8-byte offset, no Length: the data runs to the end of the packet);
// - relay side: "shadow" streams, whose bytes from a forward-from offset on are sent by the kernel; userspace keeps the
//   copy, counts what the kernel registered as sent, and sends a range only when it is reported not forwarded or lost.
public sealed partial class StreamTable
{
    /// <summary>Type byte (0x0C, +1 with FIN) + 8-byte stream id + 8-byte offset, before the data.</summary>
    public const int FastPathFrameHeaderLength = 1 + 8 + 8;

    private readonly Queue<StreamState> _fastPathQueue = new();

    /// <summary>
    /// Set by the connection before each datagram: true once both ends negotiated disable_1rtt_encryption, the handshake
    /// is confirmed and the peer's connection id has the layout's 8 bytes — only then does the fixed layout reach a kernel
    /// that can read it, so only then do fast-path streams leave the ordinary packing.
    /// </summary>
    public bool FastPathLayoutActive { get; set; }

    /// <summary>
    /// Sends the stream's new data in the fast-path layout (one STREAM frame 0x0C/0x0D per packet, 8-byte id and offset,
    /// no Length) once <see cref="FastPathLayoutActive"/>; retransmissions go in ordinary packets. A send half is required.
    /// </summary>
    public void SetFastPathLayout(ulong streamId, bool enabled)
    {
        var s = GetForApplication(streamId);
        if (s.Send is null) throw new InvalidOperationException("stream is receive-only");
        s.FastPathLayout = enabled;
        if (enabled && s.Send.HasNewData(FlowLimit(s))) EnqueueSend(s);
    }

    /// <summary>Whether the stream is marked for the fast-path layout (false for unknown or closed ids).</summary>
    public bool UsesFastPathLayout(ulong streamId) => _streams.TryGetValue(streamId, out var s) && s.FastPathLayout;

    /// <summary>Whether a fast-path stream has new data (or a new FIN) that flow control lets go now.</summary>
    public bool HasFastPathData
    {
        get
        {
            if (!FastPathLayoutActive) return false;
            foreach (var s in _fastPathQueue)
                if (!s.Removed && !s.ResetSent && s.Send!.HasNewData(FlowLimit(s))) return true;
            return false;
        }
    }

    /// <summary>
    /// Writes exactly one fast-path STREAM frame filling <paramref name="destination"/> as far as data and flow control
    /// allow (the packet's only frame: its data runs to the end of the packet), round robin across fast-path streams.
    /// Returns the bytes written, 0 when no fast-path stream can send.
    /// </summary>
    public int WriteFastPathFrame(Span<byte> destination, List<SentFrame> sentFrames)
    {
        if (!FastPathLayoutActive || destination.Length <= FastPathFrameHeaderLength) return 0;
        for (int i = _fastPathQueue.Count; i > 0; i--)
        {
            var s = _fastPathQueue.Dequeue();
            s.InFastPathQueue = false;
            if (s.Removed || s.ResetSent || !s.FastPathLayout) continue;
            var sb = s.Send!;
            ulong flowLimit = FlowLimit(s);
            ulong before = sb.HighestSent;
            if (!sb.TryTakeNew(destination[FastPathFrameHeaderLength..], flowLimit, out ulong offset, out int length, out bool fin))
            {
                NoteBlocked(s);
                // Blocked by the connection only: stay queued (MAX_DATA names no stream). Idle or blocked by the stream's
                // limit: a write or MAX_STREAM_DATA queues it again.
                if (sb.IsBlockedBy(flowLimit) && !sb.IsBlockedBy(s.PeerMaxStreamData)) EnqueueFastPath(s);
                continue;
            }
            destination[0] = (byte)(FrameType.Stream | StreamFrame.OffBit | (fin ? StreamFrame.FinBit : 0u));
            QuicVarint.Write(destination[1..], s.Id, 8);
            QuicVarint.Write(destination[9..], offset, 8);
            _connSent += sb.HighestSent - before;
            sentFrames.Add(new SentFrame(FrameType.Stream, s.Id, offset, (ulong)length, fin));
            NoteBlocked(s);
            EnqueueFastPath(s);   // back of the queue; dropped on its next turn if it has nothing left
            return FastPathFrameHeaderLength + length;
        }
        return 0;
    }

    /// <summary><see cref="SendBuffer.IsSilentShadowWrite"/> of a stream the application may write (false for any other).</summary>
    public bool IsSilentShadowWrite(ulong streamId, int length, bool fin) =>
        _streams.TryGetValue(streamId, out var s) && s.Send is { } sb && !s.ResetSent && !s.Removed && sb.IsSilentShadowWrite(length, fin);

    /// <summary>
    /// Relay side: the stream's bytes from <paramref name="forwardFrom"/> on are sent by the kernel; what the
    /// application writes there is kept as the copy for retransmission but not sent (see <see cref="SendBuffer.BeginKernelForwarding"/>).
    /// </summary>
    public void BeginKernelForwarding(ulong streamId, ulong forwardFrom)
    {
        var s = GetForApplication(streamId);
        var sb = s.Send ?? throw new InvalidOperationException("stream is receive-only");
        sb.BeginKernelForwarding(forwardFrom);
    }

    /// <summary>
    /// The kernel sent [offset, offset+length) of a shadow stream (and its FIN): counted as sent for flow control and
    /// the stream's state. False when the stream is not (or no longer) ours to send on — the packet still counts for
    /// congestion control, the caller registers it regardless.
    /// </summary>
    public bool OnForwarded(ulong streamId, ulong offset, ulong length, bool fin)
    {
        if (!_streams.TryGetValue(streamId, out var s) || s.Send is null || s.ResetSent) return false;
        var sb = s.Send;
        ulong before = sb.HighestSent;
        sb.OnSentExternally(offset, length, fin);
        _connSent += sb.HighestSent - before;
        return true;
    }

    /// <summary>The kernel did not forward [offset, offset+length) of a shadow stream: userspace sends it itself.</summary>
    public void OnNotForwarded(ulong streamId, ulong offset, ulong length, bool fin)
    {
        if (!_streams.TryGetValue(streamId, out var s) || s.Send is null || s.ResetSent) return;
        s.Send.OnNotForwarded(offset, length, fin);
        EnqueueSend(s);
    }

    /// <summary>The peer's MAX_STREAM_DATA for one of our sending streams (0 if unknown): the kernel's stream credit.</summary>
    public ulong GetPeerMaxStreamData(ulong streamId) =>
        _streams.TryGetValue(streamId, out var s) && s.Send is not null ? s.PeerMaxStreamData : 0;

    /// <summary>Highest offset sent on a stream by anyone, ourselves or the kernel (0 if unknown).</summary>
    public ulong GetHighestSent(ulong streamId) => _streams.TryGetValue(streamId, out var s) && s.Send is not null ? s.Send.HighestSent : 0;

    /// <summary>The peer's remaining connection credit (0 if something — the kernel — overshot it).</summary>
    private ulong ConnectionCredit => _peerMaxData > _connSent ? _peerMaxData - _connSent : 0;

    /// <summary>Highest offset a stream may reach now: its MAX_STREAM_DATA and the connection's remaining credit.</summary>
    private ulong FlowLimit(StreamState s) => Math.Min(s.PeerMaxStreamData, s.Send!.HighestSent + ConnectionCredit);

    private bool UsesFastPathLayout(StreamState s) => s.FastPathLayout && FastPathLayoutActive;

    private static bool HasFastPathRetransmission(StreamState s, ulong flowLimit) => s.Send!.HasSendableRetransmission(flowLimit);

    private void EnqueueFastPath(StreamState s)
    {
        if (s.InFastPathQueue || s.Removed || !s.FastPathLayout) return;
        s.InFastPathQueue = true;
        _fastPathQueue.Enqueue(s);
    }
}
