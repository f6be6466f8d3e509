using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;
using Xunit;

namespace FastRelay.Tests.Quic.Robustness;

/// <summary>
/// Every NEW_CONNECTION_ID whose Retire Prior To moves forward makes us owe the peer a RETIRE_CONNECTION_ID. A peer that
/// keeps doing it while our frames cannot leave (or are never acknowledged) grew that queue without bound — the
/// pattern of quic-go's CVE-2024-22189. The queue is bounded; past the bound the connection closes.
/// </summary>
public class RetireConnectionIdLimitTests
{
    private sealed class NoRoutes : IConnectionIdListener
    {
        public void OnIssued(in ConnectionId id) { }
        public void OnRetired(in ConnectionId id) { }
    }

    [Fact]
    public void Retiring_ids_faster_than_retirements_leave_closes_with_CONNECTION_ID_LIMIT_ERROR()
    {
        var manager = new ConnectionIdManager(ConnectionId.Random(8), ConnectionId.Random(8), StatelessResetKey.CreateRandom(), 8, new NoRoutes());
        QuicError? failure = null;
        int accepted = 0;
        for (ulong sequence = 1; sequence <= 10_000 && failure is null; sequence++)
        {
            // Each frame retires everything before it: one more RETIRE_CONNECTION_ID owed, and we never get to send it.
            var frame = new NewConnectionIdFrame(sequence, sequence, ConnectionId.Random(8), (UInt128)sequence);
            if (manager.TryOnNewConnectionId(frame, 4, out var error)) accepted++;
            else failure = error;
        }
        Assert.NotNull(failure);
        Assert.Equal(QuicTransportError.ConnectionIdLimitError, failure.Value.Code);
        Assert.InRange(accepted, 1, 256);
    }

    [Fact]
    public void Retirements_that_leave_and_are_acknowledged_do_not_count_against_the_bound()
    {
        var manager = new ConnectionIdManager(ConnectionId.Random(8), ConnectionId.Random(8), StatelessResetKey.CreateRandom(), 8, new NoRoutes());
        var buffer = new byte[1200];
        for (ulong sequence = 1; sequence <= 1000; sequence++)
        {
            var frame = new NewConnectionIdFrame(sequence, sequence, ConnectionId.Random(8), (UInt128)sequence);
            Assert.True(manager.TryOnNewConnectionId(frame, 4, out var error), $"frame {sequence}: {error}");
            var sent = new List<FastRelay.Protocols.Quic.Recovery.SentFrame>();
            manager.WriteFrames(buffer, sent);
            foreach (var f in sent) manager.OnFrameAcked(f);
        }
    }
}
