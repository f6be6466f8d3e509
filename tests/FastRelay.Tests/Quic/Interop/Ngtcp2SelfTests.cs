using Xunit;

namespace FastRelay.Tests.Quic.Interop;

/// <summary>Proves the harness with ngtcp2 on both ends: if these fail, the machine (not our stack) is the problem.</summary>
public sealed class Ngtcp2SelfTests
{
    [Ngtcp2Fact]
    public async Task Gtlsclient_downloads_10MB_from_gtlsserver_byte_identical()
    {
        await using var harness = new InteropHarness();
        var expected = harness.CreateFile("big.bin", 10 * 1024 * 1024, seed: 42);
        int port = InteropHarness.FreeUdpPort();
        var server = harness.StartGtlsServer(port, "-q");
        await InteropHarness.WaitForUdpListenerAsync(port, server, TimeSpan.FromSeconds(10));
        var client = harness.StartGtlsClient(port, ["-q"], "/big.bin");
        int exit = await client.WaitForExitAsync(InteropHarness.DefaultTimeout);
        Assert.True(exit == 0, $"gtlsclient exited {exit}\n{harness.Transcript()}");
        InteropHarness.AssertSameFile(expected, Path.Combine(harness.Downloads, "big.bin"), harness.Transcript());
    }

    [Ngtcp2Fact]
    public async Task Gtlsclient_through_retry_and_loss_gets_a_small_file()
    {
        await using var harness = new InteropHarness();
        var expected = harness.CreateFile("small.txt", 1000, seed: 5);
        int port = InteropHarness.FreeUdpPort();
        var server = harness.StartGtlsServer(port, "-q", "-V", "-t", "0.1", "-r", "0.1");
        await InteropHarness.WaitForUdpListenerAsync(port, server, TimeSpan.FromSeconds(10));
        var client = harness.StartGtlsClient(port, ["-q"], "/small.txt");
        int exit = await client.WaitForExitAsync(InteropHarness.DefaultTimeout);
        Assert.True(exit == 0, $"gtlsclient exited {exit}\n{harness.Transcript()}");
        InteropHarness.AssertSameFile(expected, Path.Combine(harness.Downloads, "small.txt"), harness.Transcript());
    }
}
