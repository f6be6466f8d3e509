using System.Diagnostics;
using Xunit;

namespace FastRelay.Tests.Quic.Robustness;

/// <summary>
/// Initial keys are public, but an Initial that was not sealed with the keys of its own destination id cannot be a
/// client's: the server must not spend a connection or a backlog slot on it.
/// </summary>
public class ForgedInitialFloodTests
{
    [Fact]
    public async Task After_600_forged_Initials_a_real_client_connects_and_fetches_within_one_second()
    {
        await using var listener = await ServerEndpoints.ListenAsync();
        using var stop = new CancellationTokenSource();
        var echo = ServerEndpoints.EchoAsync(listener, stop.Token);
        var payload = "hello after the flood"u8.ToArray();
        // Warm-up (JIT, certificate, first handshake) so the timed fetch measures the server, not start-up.
        Assert.Equal(payload, await ServerEndpoints.ConnectAndEchoAsync(listener.LocalEndPoint, payload, TimeSpan.FromSeconds(20), CancellationToken.None));

        using (var flooder = new RawUdpPeer(listener.LocalEndPoint))
        {
            var random = new Random(600);
            for (int i = 0; i < 600; i++) flooder.Send(ClientInitials.Forged(random));
        }

        var clock = Stopwatch.StartNew();
        using var oneSecond = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        byte[] back;
        try
        {
            back = await ServerEndpoints.ConnectAndEchoAsync(listener.LocalEndPoint, payload, TimeSpan.FromSeconds(1), oneSecond.Token);
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"no fetch within 1 s after the flood ({clock.ElapsedMilliseconds} ms): {e.GetType().Name}: {e.Message}");
        }
        Assert.Equal(payload, back);
        stop.Cancel();
    }
}
