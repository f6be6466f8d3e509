using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Connection;

// The QUIC side of the kernel fast path (issue 11, prompts/contract.md). Only effective on connections where both
// ends negotiated disable_1rtt_encryption: a TC program can then read and rewrite 1-RTT packets.
// - Publisher: fast-path streams send new data as the only frame of a packet, in a fixed layout (TryWriteFastPathPacket).
// - Relay, per downstream connection: the kernel numbers every 1-RTT packet (ours and the copies it forwards) and
//   reports afterwards. Our 1-RTT packets carry the local sequence in the 4-byte field and wait for their wire number
//   (ConfirmPacketNumber); copies the kernel sent are registered (RegisterForwardedPacket). Recovery, RTT, congestion
//   control and ACKs then work in wire numbers only.
public sealed partial class QuicConnectionCore
{
    /// <summary>Offsets of the fast-path layout in the UDP payload (short header, 8-byte connection id, 4-byte number).</summary>
    public const int FastPathPacketNumberOffset = 9;
    public const int FastPathFrameOffset = 13;
    public const int FastPathStreamIdOffset = 14;
    public const int FastPathStreamOffsetOffset = 22;
    public const int FastPathDataOffset = 30;

    /// <summary>Packets waiting for their wire number at most: beyond it the oldest is taken as never sent.</summary>
    public const int MaxPacketsAwaitingNumber = 4096;
    /// <summary>How long a packet may wait for its wire number, and an ACK of an unregistered number may be held (µs).</summary>
    public const long MaxExternalNumberingDelay = 1_000_000;

    private bool _externalNumbering;
    // Our 1-RTT packets sent but not numbered yet, by the low 32 bits of the local number (what the 4-byte field
    // carried and what the kernel reports), in send order for the expiry.
    private readonly Dictionary<uint, SentPacket> _awaitingNumber = [];
    private readonly Queue<(uint Local, long SentAt)> _awaitingOrder = new();
    private ulong? _largestWire;
    // qlog only: the frames of packets waiting for their number (the packet_sent event is written with the wire number).
    private readonly Dictionary<uint, byte[]> _awaitingTrace = [];

    /// <summary>Both ends negotiated disable_1rtt_encryption and the connection can take part in the fast path.</summary>
    public bool IsFastPathCapable => _plaintextOneRtt;

    /// <summary>1-RTT packet numbers are given by the kernel (<see cref="BeginExternalPacketNumbering"/>).</summary>
    public bool IsExternallyNumbered => _externalNumbering;

    /// <summary>Ranges of acknowledged wire numbers held until the kernel reports them.</summary>
    public int HeldAckRanges => _loss.HeldAckRangeCount;

    /// <summary>Registrations that found their number already acknowledged (see <see cref="LossDetection.HeldAcksApplied"/>).</summary>
    public long HeldAcksApplied => _loss.HeldAcksApplied;

    /// <summary>Our 1-RTT packets sent whose wire number has not been reported yet.</summary>
    public int PacketsAwaitingNumber => _awaitingNumber.Count;

    /// <summary>How many of our 1-RTT packets were ever sent to wait for a wire number (only grows): a rise tells the
    /// kernel's event consumer that a numbering report is in its ring now, since TC egress ran inside the send call.</summary>
    public ulong PacketsSentForNumbering { get; private set; }

    /// <summary>
    /// Relay side: from the next 1-RTT packet on, the kernel numbers this connection's packets. Returns the number the
    /// kernel's counter must start at (every smaller number was ours and stays as it was). Requires an established
    /// connection with disable_1rtt_encryption negotiated (an encrypted packet's number cannot be rewritten).
    /// <paramref name="margin"/>: the kernel starts this far past the stack's next number, because until the kernel's slot
    /// is active a packet of the stack leaves with its own number. Those numbers count as ours: the peer may acknowledge
    /// them, and such an ACK is not one of a packet never sent (it was: it is recovered as lost, never numbered). Without
    /// that, a packet sent in that moment closed the connection a second later (PROTOCOL_VIOLATION, "not registered in
    /// time"), seen under load in the lab tests.
    /// </summary>
    public ulong BeginExternalPacketNumbering(ulong margin = 0)
    {
        if (!_plaintextOneRtt) throw new InvalidOperationException("external packet numbering needs disable_1rtt_encryption on both ends");
        if (!_handshakeConfirmed) throw new InvalidOperationException("external packet numbering starts after the handshake is confirmed");
        var app = _spaces[2];
        if (!_externalNumbering)
        {
            _externalNumbering = true;
            _externalFirst = app.NextPacketNumber + margin;
            _loss.BeginExternalNumbering(_externalFirst);
            _largestWire = app.NextPacketNumber == 0 ? null : app.NextPacketNumber - 1;
            _log.LogDebug("external packet numbering from {First} (the stack's own up to {Next})", _externalFirst, app.NextPacketNumber);
        }
        return _externalFirst;
    }

    // Where the kernel's numbering starts (the stack's next number when it began, plus the margin).
    private ulong _externalFirst;

    private ISealedFastPathSlot? _sealedSlot;

    /// <summary>1-RTT numbers are taken from a counter shared with the kernel, before sealing (<see cref="TryBeginSealedFastPath"/>).</summary>
    public bool IsNumberedBeforeSealing => _sealedSlot is not null;

    /// <summary>Cipher suites the kernel can seal with (AES-GCM through the BPF crypto kfuncs); a connection of another
    /// suite (ChaCha20-Poly1305) stays with userspace.</summary>
    public static bool KernelCanSeal(CipherSuite suite) => suite is CipherSuite.Aes128GcmSha256 or CipherSuite.Aes256GcmSha384;

    /// <summary>
    /// Relay side, a connection with full 1-RTT protection (issue 16): from the next 1-RTT packet on, its numbers come from
    /// <paramref name="slot"/>'s counter, which the kernel also numbers its sealed copies from (one gapless sequence: a
    /// sealed packet cannot be renumbered afterwards), and its send keys are installed in the kernel now and at every key
    /// update. Our own packets are registered at once (we know their numbers); the kernel's copies through
    /// <see cref="RegisterForwardedPacket"/> as on the clear-text path. False (nothing changed) when the suite is not one
    /// the kernel can seal with, the connection negotiated disable_1rtt_encryption (use
    /// <see cref="BeginExternalPacketNumbering"/>), or it is already numbered externally. Requires a confirmed handshake.
    /// </summary>
    public bool TryBeginSealedFastPath(ISealedFastPathSlot slot, out ulong firstPacketNumber)
    {
        ArgumentNullException.ThrowIfNull(slot);
        var app = _spaces[2];
        firstPacketNumber = 0;
        if (!_handshakeConfirmed) throw new InvalidOperationException("the sealed fast path starts after the handshake is confirmed");
        if (_plaintextOneRtt || _externalNumbering || app.WriteKeys is not { } keys || !KernelCanSeal(keys.Suite)) return false;
        // Keys first: if the kernel refuses them, the connection stays as it was.
        slot.InstallSendKeys(keys);
        firstPacketNumber = app.NextPacketNumber;
        slot.Start(firstPacketNumber);
        _sealedSlot = slot;
        _externalNumbering = true;
        _loss.BeginExternalNumbering(firstPacketNumber);
        _largestWire = firstPacketNumber == 0 ? null : firstPacketNumber - 1;
        _log.LogDebug("sealed fast path: 1-RTT numbers from the kernel's counter from {First}", firstPacketNumber);
        return true;
    }

    /// <summary>A 1-RTT packet is about to be built: on a sealed fast-path connection its number is taken from the counter
    /// shared with the kernel now. A number taken for a packet that is then not built is a gap, which QUIC allows
    /// (RFC 9000 §12.3: numbers need not be consecutive).</summary>
    private void ReserveOneRttNumber(PacketSpace space)
    {
        if (_sealedSlot is { } slot && space.Space == PacketNumberSpace.ApplicationData) space.NextPacketNumber = slot.Reserve();
    }

    /// <summary>New 1-RTT write keys (a key update, either side): the kernel seals with them before our first packet under them.</summary>
    private void OnWriteKeysChanged(PacketKeys keys)
    {
        if (_sealedSlot is not { } slot) return;
        try
        {
            slot.InstallSendKeys(keys);
        }
        catch (Exception e)
        {
            // The kernel keeps sealing its copies with the previous generation; the peer drops them once it has discarded
            // those keys, and they are then declared lost and sent again by us. Degraded, not broken.
            _log.LogError(e, "installing key generation {Generation} in the kernel failed", keys.Generation);
        }
    }

    /// <summary>
    /// The kernel sent our 1-RTT packet whose 4-byte field carried <paramref name="local"/> (only its low 32 bits count)
    /// as wire number <paramref name="wire"/> at <paramref name="sentTime"/> (µs, our clock). False for an unknown local
    /// number (a CONNECTION_CLOSE, a packet sent before numbering started, or a report that came too late — the wire
    /// number is then registered as a packet that carried nothing to resend) or a wire number registered before.
    /// </summary>
    public bool ConfirmPacketNumber(ulong local, ulong wire, long sentTime)
    {
        if (!_externalNumbering) return false;
        if (!_awaitingNumber.Remove((uint)local, out var record))
        {
            // The kernel used the number for a packet we do not track (a CONNECTION_CLOSE, or one that left before
            // numbering started and reached the egress after): keep the number known, so the peer may acknowledge it.
            var ghost = _loss.RentPacket();
            ghost.PacketNumber = ExpandWireNumber(wire);
            ghost.Space = PacketNumberSpace.ApplicationData;
            RegisterWire(ghost, sentTime, countedInFlight: false);
            return false;
        }
        record.PacketNumber = ExpandWireNumber(wire);
        if (_awaitingTrace.Remove((uint)local, out var frames))
        {
            _tracer.AdvanceTime(sentTime);
            _tracer.PacketSent(QuicPacketType.OneRtt, record.PacketNumber, _cids.Destination.Span, record.Size, frames);
        }
        return RegisterWire(record, sentTime, countedInFlight: true);
    }

    /// <summary>
    /// The kernel forwarded a copy of an upstream packet to this connection as wire number <paramref name="wire"/>:
    /// <paramref name="packetBytes"/> UDP payload bytes carrying [offset, offset+length) of stream
    /// <paramref name="streamId"/> (and its FIN). It counts in bytes in flight and congestion control; when acknowledged
    /// the range is acknowledged, when lost userspace sends the range again from its shadow copy.
    /// </summary>
    public bool RegisterForwardedPacket(ulong wire, long sentTime, int packetBytes, ulong streamId, ulong offset, ulong length, bool fin)
    {
        if (!_externalNumbering) return false;
        Streams.OnForwarded(streamId, offset, length, fin);
        var record = _loss.RentPacket();
        record.PacketNumber = ExpandWireNumber(wire);
        record.Space = PacketNumberSpace.ApplicationData;
        record.Size = packetBytes;
        record.AckEliciting = true;
        record.InFlight = true;
        record.Frames.Add(new SentFrame(FrameType.Stream, streamId, offset, length, fin));
        if (_tracer.IsEnabled) TraceForwarded(record, sentTime, streamId, offset, length, fin);
        if (!RegisterWire(record, sentTime, countedInFlight: false)) return false;
        ForwardedBytesRegistered += packetBytes;
        return true;
    }

    /// <summary>Bytes of kernel-forwarded packets registered in flight so far (cumulative): the kernel debited them from
    /// its congestion budget when it sent them, so their registration must not debit that budget again.</summary>
    public long ForwardedBytesRegistered { get; private set; }

    /// <summary>The kernel did not forward a mapped range (no credit, budget or priority): userspace sends it itself.</summary>
    public void ReportNotForwarded(ulong streamId, ulong offset, ulong length, bool fin) => Streams.OnNotForwarded(streamId, offset, length, fin);

    private bool RegisterWire(SentPacket record, long sentTime, bool countedInFlight)
    {
        ulong wire = record.PacketNumber;
        if (!_loss.RegisterExternallyNumbered(record, sentTime, countedInFlight, this)) return false;
        if (_largestWire is not ulong largest || wire > largest) _largestWire = wire;
        Streams.SmoothedRtt = _rtt.SmoothedRtt;
        return true;
    }

    /// <summary>qlog packet_sent of a kernel copy: its one STREAM frame (the data bytes themselves are not ours to log: zeros).</summary>
    private void TraceForwarded(SentPacket record, long sentTime, ulong streamId, ulong offset, ulong length, bool fin)
    {
        if (length > (ulong)record.Size) return;   // not a plausible copy: nothing sensible to describe
        // The copy's layout: type, then stream id and offset as 8-byte varints both (GetOverhead sizes the offset by its
        // value, which left a FIN-only copy's frame too short for the offset and threw mid-batch, session 13).
        var frame = new byte[FastPathDataOffset - FastPathFrameOffset + (int)length];
        frame[0] = (byte)(FrameType.Stream | StreamFrame.OffBit | (fin ? StreamFrame.FinBit : 0u));
        QuicVarint.Write(frame.AsSpan(1), streamId, 8);
        QuicVarint.Write(frame.AsSpan(9), offset, 8);
        _tracer.AdvanceTime(sentTime);
        _tracer.PacketSent(QuicPacketType.OneRtt, record.PacketNumber, _cids.Destination.Span, record.Size, frame);
    }

    /// <summary>A kernel counter may be reported in 32 bits: extend it next to the largest wire number seen (RFC 9000 A.3).</summary>
    private ulong ExpandWireNumber(ulong wire) =>
        wire <= uint.MaxValue && _largestWire is ulong largest && largest > uint.MaxValue / 2 ? PacketNumber.Decode(largest, wire, 4) : wire;

    /// <summary>Where a sent packet goes: straight into loss detection, or to wait for its wire number.</summary>
    private void RecordSent(SentPacket record, long now)
    {
        if (!_externalNumbering || record.Space != PacketNumberSpace.ApplicationData)
        {
            _loss.OnPacketSent(record, now);
            return;
        }
        if (_sealedSlot is not null)
        {
            // Numbered before sealing: the wire number is already the packet's own.
            RegisterWire(record, now, countedInFlight: false);
            return;
        }
        uint key = (uint)record.PacketNumber;
        if (_awaitingNumber.Count >= MaxPacketsAwaitingNumber) AbandonOldestAwaiting();
        if (_awaitingNumber.Remove(key, out var stale)) _loss.AbandonAwaitingNumber(stale, this);   // 2^32 packets later
        _loss.OnPacketAwaitingNumber(record, now);
        _awaitingNumber[key] = record;
        _awaitingOrder.Enqueue((key, now));
        PacketsSentForNumbering++;
    }

    private void AbandonOldestAwaiting()
    {
        while (_awaitingOrder.TryDequeue(out var oldest))
        {
            if (!_awaitingNumber.Remove(oldest.Local, out var record)) continue;   // confirmed meanwhile
            _awaitingTrace.Remove(oldest.Local);
            _log.LogDebug("1-RTT packet {Local} never got a wire number: resending its frames", oldest.Local);
            _loss.AbandonAwaitingNumber(record, this);
            return;
        }
    }

    /// <summary>Earliest deadline of the external numbering: a packet waiting for its number, a held ACK.</summary>
    private long ExternalNumberingTimeout
    {
        get
        {
            if (!_externalNumbering) return long.MaxValue;
            long next = long.MaxValue;
            while (_awaitingOrder.TryPeek(out var oldest) && !_awaitingNumber.ContainsKey(oldest.Local)) _awaitingOrder.Dequeue();
            if (_awaitingOrder.TryPeek(out var first)) next = first.SentAt + MaxExternalNumberingDelay;
            long held = _loss.OldestHeldAck;
            if (held != long.MaxValue) next = Math.Min(next, held + MaxExternalNumberingDelay);
            return next;
        }
    }

    /// <summary>Packets that waited too long for a number are resent; ACKs held too long for unknown numbers close the connection.</summary>
    private void OnExternalNumberingTimeout(long now)
    {
        if (!_externalNumbering) return;
        while (_awaitingOrder.TryPeek(out var oldest) && now - oldest.SentAt >= MaxExternalNumberingDelay)
        {
            _awaitingOrder.Dequeue();
            if (!_awaitingNumber.Remove(oldest.Local, out var record)) continue;
            _awaitingTrace.Remove(oldest.Local);
            _log.LogDebug("1-RTT packet {Local} not numbered within {Limit} µs: resending its frames", oldest.Local, MaxExternalNumberingDelay);
            _loss.AbandonAwaitingNumber(record, this);
        }
        if (!_loss.TryExpireHeldAcks(now, MaxExternalNumberingDelay, out var error)) CloseWithError(error, now);
    }

    /// <summary>
    /// Publisher side: one 1-RTT packet holding exactly one fast-path STREAM frame (see StreamTable.FastPath.cs), alone
    /// in its datagram, so the relay's kernel finds every field at a fixed offset.
    /// </summary>
    private bool TryWriteFastPathPacket(Span<byte> datagram, long now, out int length)
    {
        length = 0;
        var space = _spaces[2];
        if (!_plaintextOneRtt || !_handshakeConfirmed || !space.CanSend || !Streams.HasFastPathData || !_cc.CanSend(MaxDatagramSize)) return false;
        if (_cids.Destination.Length != 8) return false;   // the layout fixes an 8-byte connection id; ordinary packets otherwise
        ulong packetNumber = space.NextPacketNumber;
        int headerLength = PacketHeaderWriter.WriteShortHeader(datagram, _cids.Destination.Span, packetNumber, PacketNumberLength, space.WriteKeys!.KeyPhase);
        var record = _loss.RentPacket();
        record.PacketNumber = packetNumber;
        record.Space = PacketNumberSpace.ApplicationData;
        // The frame's data runs to the end of the datagram. Room for the tag a sealing relay appends to its copies is the
        // relay's to ask for: it advertises a max_udp_payload_size 16 bytes short (RelayFastPath.MaxReceiveUdpPayloadSize),
        // which bounds this datagram. Leaving it here as well (session 11) cost 16 bytes more per packet on such a relay
        // and 16 bytes on every other.
        int written = datagram.Length > headerLength ? Streams.WriteFastPathFrame(datagram[headerLength..], record.Frames) : 0;
        if (written == 0)
        {
            _loss.ReturnPacket(record);
            return false;
        }
        space.NextPacketNumber++;
        record.AckEliciting = true;
        record.InFlight = true;
        var packet = new PendingPacket
        {
            Start = 0, HeaderLength = headerLength, PayloadLength = written, LongHeader = false, Keys = null, Record = record,
            Space = PacketNumberSpace.ApplicationData,
        };
        TracePacketSent(datagram, packet, PacketNumberSpace.ApplicationData);
        length = headerLength + written;
        record.Size = length;
        RecordSent(record, now);
        if (!_ackElicitingSentSinceReceive)
        {
            _lastActivity = Math.Max(_lastActivity, now);
            _ackElicitingSentSinceReceive = true;
        }
        _bytesSent += length;
        if (_log.IsEnabled(LogLevel.Trace)) _log.LogTrace("sent fast-path packet {Number}: {Frames}", packetNumber, DescribeFrames(record));
        return true;
    }
}
