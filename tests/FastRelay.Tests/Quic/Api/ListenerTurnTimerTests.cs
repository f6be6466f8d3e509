using System.Net;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Io;
using Xunit;

namespace FastRelay.Tests.Quic.Api;

/// <summary>
/// <see cref="QuicListener.RunTurnBy"/>: a timer for the turn work. The kernel fast path refreshes each subscriber's
/// credit and drop threshold every 20 ms from the listener's turns; before this timer that refresh ran only when the loop
/// happened to turn (a datagram, a connection timer, or the loop's safety-net sleep of 2 ms), so with a longer safety net
/// it ran mostly at datagram arrivals and sampled the subscribers' backlog at its peaks (issue 11). With no traffic at
/// all, the only turns are the asked-for ones and the safety net's (every 100 ms): the asked-for turns must come near
/// their time, sooner than the safety net would bring them (about 80 ms late for a turn asked 20 ms ahead).
/// </summary>
public sealed class ListenerTurnTimerTests
{
    private const long AskAheadMicros = 20_000;
    // Half the safety-net sleep (QuicEndpoint.MaxSleepMicros, 100 ms): a turn only the safety net brought is later than
    // this. Judged on the median of ten: a loaded two-core machine delays some timers by tens of milliseconds, not most.
    private const long LatestAcceptableMedianMicros = 50_000;

    [Fact]
    public async Task Turns_asked_for_come_at_their_time_with_no_traffic()
    {
        await using var listener = await QuicListener.ListenAsync(new QuicListenerOptions
        {
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            ApplicationProtocols = ["test"],
            ConnectionOptions = new QuicServerConnectionOptions { ServerCertificate = LoopbackPair.Certificate.Value, ApplicationProtocols = ["test"] },
        });
        var lateness = new List<long>();   // receive thread only until the registration is disposed
        long due = long.MaxValue;
        var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var registration = listener.RunEveryTurn(() =>
        {
            long now = QuicClock.NowMicros;
            if (due != long.MaxValue)
            {
                if (now < due)
                {
                    // An earlier turn (the registration's first, or a spurious wake-up): the request lasts one turn, ask again.
                    listener.RunTurnBy(due);
                    return;
                }
                lateness.Add(now - due);
                if (lateness.Count == 10) enough.TrySetResult();
                if (lateness.Count >= 10) return;
            }
            due = now + AskAheadMicros;
            listener.RunTurnBy(due);
        });
        listener.WakeReceiveThread();   // the first turn asks for the first timer
        await enough.Task.WaitAsync(TimeSpan.FromSeconds(30));
        registration.Dispose();

        var observed = lateness.ToArray();
        Assert.Equal(10, observed.Length);
        Assert.All(observed, late => Assert.True(late >= 0));
        Array.Sort(observed);
        Assert.InRange(observed[observed.Length / 2], 0, LatestAcceptableMedianMicros);
    }
}
