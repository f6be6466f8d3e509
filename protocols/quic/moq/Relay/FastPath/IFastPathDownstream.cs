using FastRelay.Protocols.Quic.Api;

namespace FastRelay.Protocols.Moq.Relay.FastPath;

/// <summary>
/// What the kernel plane's event pump feeds for one subscriber slot: the three ring-buffer events of the contract
/// (prompts/contract.md, docs/quic-fast-path.md "Events"). Times are kernel CLOCK_MONOTONIC nanoseconds.
/// An interface (not QuicConnection directly) so the pump can be tested against the real kernel without a handshake.
/// </summary>
public interface IFastPathDownstream
{
    /// <summary>The relay's own packet <paramref name="local"/> left as <paramref name="wire"/>.</summary>
    void OnNumbered(ulong local, ulong wire, long timeNs);

    /// <summary>The kernel sent a copy of upstream data to this subscriber as packet <paramref name="wire"/>.</summary>
    void OnForwarded(ulong wire, long timeNs, int packetBytes, ulong streamId, ulong offset, ulong length, bool fin);

    /// <summary>A mapped copy the kernel did not send: userspace must send that range itself.</summary>
    void OnNotForwarded(ulong streamId, ulong offset, ulong length, bool fin);

    /// <summary>A batch (one consume of the ring) in which this sink got events ended: a sink that collects them applies
    /// them now, together. Called by the consuming thread after the batch's last event, before the consume returns.</summary>
    void OnBatchEnd() { }
}

/// <summary>The production sink: a downstream QUIC connection with external packet numbering on. Events are collected
/// and handed to the connection once per batch (<see cref="OnBatchEnd"/>, <see cref="QuicConnection.ApplyKernelReports"/>):
/// one lock and one send pass per connection and batch instead of per event. Only the pump calls it, one batch at a time.</summary>
public sealed class QuicConnectionDownstream(QuicConnection connection) : IFastPathDownstream
{
    private long _registeredDataBytes;
    private long _notForwardedDataBytes;
    private readonly List<KernelReport> _batch = new();

    public QuicConnection Connection { get; } = connection;

    /// <summary>Stream data bytes of mapped copies the kernel handed back (not forwarded): the connection sends them.</summary>
    public long NotForwardedDataBytes => Interlocked.Read(ref _notForwardedDataBytes);

    /// <summary>Stream data bytes of forwarded copies registered with the connection so far: the kernel's used
    /// credit minus this is what it forwarded but the connection does not know of yet (credit refresh).</summary>
    public long RegisteredDataBytes => Interlocked.Read(ref _registeredDataBytes);

    public void OnNumbered(ulong local, ulong wire, long timeNs) => _batch.Add(KernelReport.Numbered(local, wire, timeNs));

    public void OnForwarded(ulong wire, long timeNs, int packetBytes, ulong streamId, ulong offset, ulong length, bool fin) =>
        _batch.Add(KernelReport.Forwarded(wire, timeNs, packetBytes, streamId, offset, length, fin));

    public void OnNotForwarded(ulong streamId, ulong offset, ulong length, bool fin) => _batch.Add(KernelReport.NotForwarded(streamId, offset, length, fin));

    public void OnBatchEnd()
    {
        try
        {
            Connection.ApplyKernelReports(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_batch));
            long registered = 0, notForwarded = 0;
            lock (_coverage)
                foreach (var r in _batch)
                {
                    if (r.Kind == KernelReportKind.Numbered) continue;
                    if (r.Kind == KernelReportKind.Forwarded) registered += (long)r.Length;
                    else notForwarded += (long)r.Length;
                    CoverLocked(r.StreamId, r.Offset, r.Length);
                }
            Interlocked.Add(ref _registeredDataBytes, registered);
            Interlocked.Add(ref _notForwardedDataBytes, notForwarded);
        }
        finally
        {
            _batch.Clear();
        }
    }

    // Per mapped stream: the downstream ranges the kernel accounted for (forwarded or reported). A shadow range the
    // relay wrote that stays outside them was never seen by the kernel (it reached the relay in an ordinary packet: a
    // publisher's retransmission, or data that arrived before the mapping): the relay must send it itself.
    private readonly Dictionary<ulong, List<(ulong Start, ulong End)>> _coverage = new();

    internal void TrackCoverage(ulong streamId) { lock (_coverage) _coverage[streamId] = new(); }

    internal void StopCoverage(ulong streamId) { lock (_coverage) _coverage.Remove(streamId); }

    private void CoverLocked(ulong streamId, ulong offset, ulong length)
    {
        if (length > 0 && _coverage.TryGetValue(streamId, out var ranges)) ranges.Add((offset, offset + length));
    }

    /// <summary>The parts of [start, end) of a tracked stream the kernel has not accounted for; forgets ranges below
    /// <paramref name="start"/> (the caller asks in increasing order).</summary>
    internal List<(ulong Start, ulong End)> Uncovered(ulong streamId, ulong start, ulong end)
    {
        var gaps = new List<(ulong, ulong)>();
        lock (_coverage)
        {
            if (!_coverage.TryGetValue(streamId, out var ranges)) return gaps;
            ranges.RemoveAll(r => r.End <= start);
            ranges.Sort();
            var at = start;
            foreach (var (s, e) in ranges)
            {
                if (s >= end) break;
                if (s > at) gaps.Add((at, s));
                if (e > at) at = e;
            }
            if (at < end) gaps.Add((at, end));
        }
        return gaps;
    }
}
