using Xunit;

namespace FastRelay.Tests.Quic.Interop;

/// <summary>
/// Compatible version negotiation (RFC 9368) with ngtcp2 in both directions. Debian's ngtcp2 0.12 speaks QUIC v2 only in
/// its draft form ("v2draft", 0x709a50c4, version_information under the draft codepoint 0xff73db), so these runs use
/// that version: the same negotiation, key labels and packet types as RFC 9369 with the draft's constants. The final v2
/// is covered by the RFC 9369 vectors and by our own client and server.
/// </summary>
public sealed class VersionInteropTests
{
    [Ngtcp2Fact]
    public async Task Our_client_is_upgraded_to_v2draft_by_gtlsserver()
    {
        await using var harness = new InteropHarness();
        var expected = harness.CreateFile("small.bin", 50_000);
        int port = InteropHarness.FreeUdpPort();
        // Not -q: its log says which version it negotiated.
        var server = harness.StartGtlsServer(port, "--preferred-versions=v2draft");
        await InteropHarness.WaitForUdpListenerAsync(port, server, TimeSpan.FromSeconds(10));
        var client = harness.StartFastRelay("quic", "get", "--insecure", "--quic-version", "v2draft,v1", "-v",
            "-o", Path.Combine(harness.Downloads, "small.bin"), $"https://127.0.0.1:{port}/small.bin");
        int exit = await client.WaitForExitAsync(InteropHarness.DefaultTimeout);
        Assert.True(exit == 0, $"quic get exited {exit}\n{harness.Transcript()}");
        InteropHarness.AssertSameFile(expected, Path.Combine(harness.Downloads, "small.bin"), harness.Transcript());
        // Both ends say v2draft: our connection's state and the peer's own log.
        Assert.Contains("QUIC v2draft", client.Output);
        Assert.Contains("server switched the version: v1 -> v2draft", client.Output);
        Assert.Contains("the negotiated version is 0x709a50c4", server.Output);
    }

    [Ngtcp2Fact]
    public async Task Our_client_offering_final_v2_stays_on_v1_with_a_server_that_does_not_know_it()
    {
        await using var harness = new InteropHarness();
        var expected = harness.CreateFile("small.bin", 5_000);
        int port = InteropHarness.FreeUdpPort();
        var server = harness.StartGtlsServer(port, "--preferred-versions=v2draft");
        await InteropHarness.WaitForUdpListenerAsync(port, server, TimeSpan.FromSeconds(10));
        var client = harness.StartFastRelay("quic", "get", "--insecure", "--quic-version", "v2,v1",
            "-o", Path.Combine(harness.Downloads, "small.bin"), $"https://127.0.0.1:{port}/small.bin");
        Assert.True(await client.WaitForExitAsync(InteropHarness.DefaultTimeout) == 0, harness.Transcript());
        InteropHarness.AssertSameFile(expected, Path.Combine(harness.Downloads, "small.bin"), harness.Transcript());
        Assert.Contains("QUIC v1", client.Output);
    }

    [Ngtcp2Fact]
    public async Task Gtlsclient_is_upgraded_to_v2draft_by_our_server()
    {
        await using var harness = new InteropHarness();
        var expected = harness.CreateFile("small.bin", 50_000);
        int port = InteropHarness.FreeUdpPort();
        var server = harness.StartFastRelay("quic", "serve", "--root", harness.Htdocs, "--port", port.ToString(),
            "--cert", harness.CertificatePath, "--key", harness.KeyPath, "--quic-version", "v1,v2,v2draft", "-v");
        await server.WaitForOutputAsync("listening on", TimeSpan.FromSeconds(30));
        // First flight v1, offering v2draft first (ngtcp2's --other-versions is the Available Versions list).
        var client = harness.StartGtlsClient(port, ["--other-versions=v2draft,v1"], "/small.bin");
        int exit = await client.WaitForExitAsync(InteropHarness.DefaultTimeout);
        Assert.True(exit == 0, $"gtlsclient exited {exit}\n{harness.Transcript()}");
        InteropHarness.AssertSameFile(expected, Path.Combine(harness.Downloads, "small.bin"), harness.Transcript());
        Assert.Contains("the negotiated version is 0x709a50c4", client.Output);
        Assert.Contains("version=0x00000001 type=Initial", client.Output);       // its first flight really was v1
        await server.StopAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("compatible version negotiation: v1 -> v2draft", server.Output);
        Assert.Contains("handshake complete: QUIC v2draft", server.Output);
    }

    [Ngtcp2Fact]
    public async Task Gtlsclient_starting_in_an_unserved_version_reconnects_after_our_version_negotiation()
    {
        // Our server serves v1 and v2 only; gtlsclient starts in v2draft, gets our Version Negotiation packet (v1, v2),
        // and starts again in v1 — then checks our version_information against that packet (its downgrade check).
        await using var harness = new InteropHarness();
        var expected = harness.CreateFile("small.bin", 5_000);
        int port = InteropHarness.FreeUdpPort();
        var server = harness.StartFastRelay("quic", "serve", "--root", harness.Htdocs, "--port", port.ToString(),
            "--cert", harness.CertificatePath, "--key", harness.KeyPath);
        await server.WaitForOutputAsync("listening on", TimeSpan.FromSeconds(30));
        var client = harness.StartGtlsClient(port, ["-v", "v2draft", "--preferred-versions=v2draft,v1"], "/small.bin");
        int exit = await client.WaitForExitAsync(InteropHarness.DefaultTimeout);
        Assert.True(exit == 0, $"gtlsclient exited {exit}\n{harness.Transcript()}");
        InteropHarness.AssertSameFile(expected, Path.Combine(harness.Downloads, "small.bin"), harness.Transcript());
        Assert.Contains("type=VN", client.Output);
        Assert.Contains("the negotiated version is 0x00000001", client.Output);
    }
}
