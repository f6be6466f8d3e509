using Xunit;

namespace FastRelay.Tests.Quic.Interop;

/// <summary>
/// ECN validation against ngtcp2 over loopback (which keeps the IP TOS bits): ngtcp2 counts our ECT(0) marks in its
/// ACK_ECN frames and our validation accepts them, in both directions.
/// </summary>
public sealed class EcnInteropTests
{
    [Ngtcp2Fact]
    public async Task Our_client_validates_ecn_with_gtlsserver()
    {
        await using var harness = new InteropHarness();
        var expected = harness.CreateFile("big.bin", 2 * 1024 * 1024);
        int port = InteropHarness.FreeUdpPort();
        var server = harness.StartGtlsServer(port, "-q");
        await InteropHarness.WaitForUdpListenerAsync(port, server, TimeSpan.FromSeconds(10));
        var client = harness.StartFastRelay("quic", "get", "--insecure", "-v", "-o", Path.Combine(harness.Downloads, "big.bin"),
            $"https://127.0.0.1:{port}/big.bin");
        Assert.True(await client.WaitForExitAsync(InteropHarness.DefaultTimeout) == 0, harness.Transcript());
        InteropHarness.AssertSameFile(expected, Path.Combine(harness.Downloads, "big.bin"), harness.Transcript());
        Assert.Contains("ECN capable", client.Output);
        Assert.Contains("ECN Capable", client.Output);          // the connection's state at the end, in the summary line
        Assert.DoesNotContain("ECN validation failed", client.Output);
    }

    [Ngtcp2Fact]
    public async Task Our_server_validates_ecn_with_gtlsclient()
    {
        await using var harness = new InteropHarness();
        var expected = harness.CreateFile("big.bin", 2 * 1024 * 1024);
        int port = InteropHarness.FreeUdpPort();
        var server = harness.StartFastRelay("quic", "serve", "--root", harness.Htdocs, "--port", port.ToString(),
            "--cert", harness.CertificatePath, "--key", harness.KeyPath, "-v");
        await server.WaitForOutputAsync("listening on", TimeSpan.FromSeconds(30));
        var client = harness.StartGtlsClient(port, ["-q"], "/big.bin");
        Assert.True(await client.WaitForExitAsync(InteropHarness.DefaultTimeout) == 0, harness.Transcript());
        InteropHarness.AssertSameFile(expected, Path.Combine(harness.Downloads, "big.bin"), harness.Transcript());
        await server.StopAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("ECN capable", server.Output);
        Assert.DoesNotContain("ECN validation failed", server.Output);
    }
}
