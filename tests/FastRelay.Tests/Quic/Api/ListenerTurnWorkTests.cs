using System.Net;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Tests.Infrastructure;
using Xunit;

namespace FastRelay.Tests.Quic.Api;

/// <summary>
/// <see cref="QuicListener.RunEveryTurn"/>: work another layer runs on the listener's receive thread (the kernel fast
/// path consumes its registration events there). It must run with no traffic at all (here woken by
/// <see cref="QuicListener.WakeReceiveThread"/>; the loop's safety-net sleep is 100 ms), on the receive thread, not on the
/// caller's, and never again once its registration is disposed.
/// </summary>
public sealed class ListenerTurnWorkTests
{
    [Fact]
    public async Task Turn_work_runs_on_the_receive_thread_without_traffic_and_stops_when_disposed()
    {
        await using var listener = await QuicListener.ListenAsync(new QuicListenerOptions
        {
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            ApplicationProtocols = ["test"],
            ConnectionOptions = new QuicServerConnectionOptions { ServerCertificate = LoopbackPair.Certificate.Value, ApplicationProtocols = ["test"] },
        });
        var turns = 0;
        var threads = new System.Collections.Concurrent.ConcurrentDictionary<int, byte>();
        var registration = listener.RunEveryTurn(() =>
        {
            Interlocked.Increment(ref turns);
            threads.TryAdd(Environment.CurrentManagedThreadId, 0);
        });
        // Each wake-up is a turn (the condition is polled every 10 ms): 20 of them well within the deadline.
        await Eventually.TrueAsync(() =>
        {
            listener.WakeReceiveThread();
            return Volatile.Read(ref turns) >= 20;
        }, "the turn work ran at least 20 times with no datagram received");
        Assert.Single(threads);
        Assert.NotEqual(Environment.CurrentManagedThreadId, threads.Keys.Single());

        registration.Dispose();
        // A turn already under way when Dispose returned may still finish; none may start after it.
        var atDispose = Volatile.Read(ref turns);
        await Task.Delay(200);
        Assert.InRange(Volatile.Read(ref turns), atDispose, atDispose + 1);

        // Another registration still runs: disposing one removed only that one.
        var other = 0;
        using var second = listener.RunEveryTurn(() => Interlocked.Increment(ref other));
        listener.WakeReceiveThread();
        await Eventually.TrueAsync(() => Volatile.Read(ref other) >= 5, "a second registration runs");
        Assert.InRange(Volatile.Read(ref turns), atDispose, atDispose + 1);
    }
}
