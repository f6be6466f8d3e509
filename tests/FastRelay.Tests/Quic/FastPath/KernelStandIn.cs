using System.Buffers.Binary;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Tests.Quic.FastPath;

/// <summary>
/// A TEST DOUBLE of the relay's subscriber-egress TC program for one downstream connection (slot), used only because the
/// real TC programs are being built in parallel by another helper (issue 11). It does what prompts/contract.md says the
/// kernel does, on bytes, so the QUIC stack is tested against the contract and not against itself:
/// numbers every 1-RTT packet of the relay's connection from one gapless counter (overwriting the 4-byte field at offset
/// 9 and reporting the stack's original number), builds forwarded copies in the fast-path layout under stream and
/// connection credit (or reports them not forwarded), and queues ring-buffer events that the test drains into the
/// connection whenever it chooses — late, like the real asynchronous drain.
/// </summary>
internal sealed class KernelStandIn
{
    /// <summary>A ring-buffer event; <c>Time</c> is in the unit of whoever drives the stand-in (the core's µs, or kernel ns).</summary>
    public abstract record Event(long Time);
    public sealed record Numbered(ulong Local, ulong Wire, long Time, int Bytes) : Event(Time);
    public sealed record Forwarded(ulong Wire, long Time, int Bytes, ulong StreamId, ulong Offset, ulong Length, bool Fin) : Event(Time);
    public sealed record NotForwarded(ulong StreamId, ulong Offset, ulong Length, bool Fin, long Time) : Event(Time);

    private readonly Queue<Event> _events = new();
    // The loopback test drives it from the proxy thread (egress) and the test thread (forwarding, draining).
    private readonly object _lock = new();
    private ulong _unregisteredForwardedBytes;

    /// <summary>Numbering and forwarding happen only once userspace activated the slot.</summary>
    public bool Active { get; private set; }
    public ulong NextPacketNumber { get; private set; }
    /// <summary>The subscriber's connection id, learned from the relay's own 1-RTT packets (8 bytes in the fast path).</summary>
    public byte[]? SubscriberConnectionId { get; private set; }
    /// <summary>Every wire number given, in the order the packets left.</summary>
    public List<ulong> WireNumbers { get; } = [];
    public int ForwardedCount { get; private set; }
    public int NotForwardedCount { get; private set; }
    public int PendingEvents { get { lock (_lock) return _events.Count; } }
    /// <summary>Credit checks the stand-in made: (offset + length, stream limit) of every forwarded copy.</summary>
    public List<(ulong End, ulong Limit)> CreditChecks { get; } = [];

    public void Activate(ulong firstPacketNumber)
    {
        Active = true;
        NextPacketNumber = firstPacketNumber;
    }

    /// <summary>Egress of a datagram the relay's stack sent: number 1-RTT packets; everything else passes untouched.</summary>
    public void Egress(byte[] datagram, long now)
    {
        lock (_lock) EgressLocked(datagram, now);
    }

    private void EgressLocked(byte[] datagram, long now)
    {
        if (!Active || datagram.Length < QuicConnectionCore.FastPathFrameOffset || (datagram[0] & 0x80) != 0) return;
        SubscriberConnectionId ??= datagram.AsSpan(1, 8).ToArray();
        ulong local = BinaryPrimitives.ReadUInt32BigEndian(datagram.AsSpan(QuicConnectionCore.FastPathPacketNumberOffset));
        ulong wire = NextPacketNumber++;
        BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(QuicConnectionCore.FastPathPacketNumberOffset), (uint)wire);
        WireNumbers.Add(wire);
        _events.Enqueue(new Numbered(local, wire, now, datagram.Length));
    }

    /// <summary>
    /// Clones an upstream fast-path packet's data to the subscriber, already translated (downstream stream id and
    /// offset). Refused — reported not forwarded — when it would exceed the subscriber's MAX_STREAM_DATA
    /// (<paramref name="streamLimit"/>) or the connection credit userspace granted (<paramref name="connectionCredit"/>,
    /// less what was forwarded but not registered yet).
    /// </summary>
    public byte[]? Forward(ulong streamId, ulong offset, ReadOnlySpan<byte> data, bool fin, long now, ulong streamLimit, ulong connectionCredit)
    {
        lock (_lock) return ForwardLocked(streamId, offset, data, fin, now, streamLimit, connectionCredit);
    }

    private byte[]? ForwardLocked(ulong streamId, ulong offset, ReadOnlySpan<byte> data, bool fin, long now, ulong streamLimit, ulong connectionCredit)
    {
        if (!Active || SubscriberConnectionId is null) throw new InvalidOperationException("slot not active");
        ulong end = offset + (ulong)data.Length;
        ulong credit = connectionCredit > _unregisteredForwardedBytes ? connectionCredit - _unregisteredForwardedBytes : 0;
        if (end > streamLimit || (ulong)data.Length > credit)
        {
            NotForwardedCount++;
            _events.Enqueue(new NotForwarded(streamId, offset, (ulong)data.Length, fin, now));
            return null;
        }
        CreditChecks.Add((end, streamLimit));
        var packet = new byte[QuicConnectionCore.FastPathDataOffset + data.Length];
        packet[0] = 0x43;
        SubscriberConnectionId.CopyTo(packet.AsSpan(1));
        ulong wire = NextPacketNumber++;
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(QuicConnectionCore.FastPathPacketNumberOffset), (uint)wire);
        packet[QuicConnectionCore.FastPathFrameOffset] = (byte)(fin ? 0x0D : 0x0C);
        QuicVarint.Write(packet.AsSpan(QuicConnectionCore.FastPathStreamIdOffset), streamId, 8);
        QuicVarint.Write(packet.AsSpan(QuicConnectionCore.FastPathStreamOffsetOffset), offset, 8);
        data.CopyTo(packet.AsSpan(QuicConnectionCore.FastPathDataOffset));
        WireNumbers.Add(wire);
        ForwardedCount++;
        _unregisteredForwardedBytes += (ulong)data.Length;
        _events.Enqueue(new Forwarded(wire, now, packet.Length, streamId, offset, (ulong)data.Length, fin));
        return packet;
    }

    /// <summary>Loses every pending event (a ring buffer that overflowed): the connection never hears of those packets.</summary>
    public void DiscardPendingEvents() { lock (_lock) _events.Clear(); }

    /// <summary>Drains up to <paramref name="max"/> events into the connection, as the relay glue will.</summary>
    public int Drain(QuicConnectionCore relay, int max = int.MaxValue) =>
        Drain(max, u => relay.ConfirmPacketNumber(u.Local, u.Wire, u.Time),
            f => relay.RegisterForwardedPacket(f.Wire, f.Time, f.Bytes, f.StreamId, f.Offset, f.Length, f.Fin),
            nf => relay.ReportNotForwarded(nf.StreamId, nf.Offset, nf.Length, nf.Fin));

    /// <summary>The same through the public API, whose times are kernel nanoseconds (the stand-in's times are then ns too).</summary>
    public int Drain(FastRelay.Protocols.Quic.Api.QuicConnection relay, int max = int.MaxValue) =>
        Drain(max, u => relay.ConfirmPacketNumber(u.Local, u.Wire, u.Time),
            f => relay.RegisterForwardedPacket(f.Wire, f.Time, f.Bytes, f.StreamId, f.Offset, f.Length, f.Fin),
            nf => relay.ReportNotForwarded(nf.StreamId, nf.Offset, nf.Length, nf.Fin));

    /// <summary>Every queued event in one <see cref="FastRelay.Protocols.Quic.Api.QuicConnection.ApplyKernelReports"/>
    /// call, as the relay's consumer hands over a ring batch (times in kernel ns).</summary>
    public int DrainBatch(FastRelay.Protocols.Quic.Api.QuicConnection relay)
    {
        var batch = new List<FastRelay.Protocols.Quic.Api.KernelReport>();
        Drain(int.MaxValue, u => batch.Add(FastRelay.Protocols.Quic.Api.KernelReport.Numbered(u.Local, u.Wire, u.Time)),
            f => batch.Add(FastRelay.Protocols.Quic.Api.KernelReport.Forwarded(f.Wire, f.Time, f.Bytes, f.StreamId, f.Offset, f.Length, f.Fin)),
            nf => batch.Add(FastRelay.Protocols.Quic.Api.KernelReport.NotForwarded(nf.StreamId, nf.Offset, nf.Length, nf.Fin)));
        relay.ApplyKernelReports(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(batch));
        return batch.Count;
    }

    private int Drain(int max, Action<Numbered> numbered, Action<Forwarded> forwarded, Action<NotForwarded> notForwarded)
    {
        lock (_lock)
        {
            int n = 0;
            while (n < max && _events.TryDequeue(out var e))
            {
                n++;
                switch (e)
                {
                    case Numbered u:
                        numbered(u);
                        break;
                    case Forwarded f:
                        _unregisteredForwardedBytes -= f.Length;
                        forwarded(f);
                        break;
                    case NotForwarded nf:
                        notForwarded(nf);
                        break;
                }
            }
            return n;
        }
    }
}
