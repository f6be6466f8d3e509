using FastRelay.Protocols.Quic.Api;
using FastRelay.Tests.Infrastructure;
using Xunit;

namespace FastRelay.Tests.Quic.Api;

/// <summary>QuicPathStatistics.UnsentBytes: the connection's backlog, which the MoQ fast path reads as its congestion
/// signal (a subscriber whose connection cannot send what it holds loses low-priority subgroups).</summary>
public class PathStatisticsLoopbackTests
{
    [Fact]
    public async Task Unsent_bytes_count_what_flow_control_holds_back_and_fall_to_zero_once_the_peer_reads()
    {
        const int Window = 8 * 1024, Payload = 96 * 1024;
        await using var pair = await LoopbackPair.StartAsync(server: s =>
        {
            s.InitialStreamReceiveWindow = Window;
            s.MaxStreamReceiveWindow = Window;
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var stream = await pair.Client.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
        var writing = stream.WriteAsync(new byte[Payload], completeWrites: true, timeout.Token).AsTask();

        // The server reads nothing yet: all but its stream window waits in the client.
        await Eventually.TrueAsync(() => pair.Client.GetPathStatistics().UnsentBytes >= Payload - 2 * Window,
            $"the client's backlog reaches the held-back bytes (now {pair.Client.GetPathStatistics().UnsentBytes})");

        var inbound = await pair.Server.AcceptInboundStreamAsync(timeout.Token);
        var sink = new MemoryStream();
        await inbound.CopyToAsync(sink, timeout.Token);
        await writing;
        Assert.Equal(Payload, sink.Length);
        await Eventually.TrueAsync(() => pair.Client.GetPathStatistics().UnsentBytes == 0, "the backlog drained");
    }
}
