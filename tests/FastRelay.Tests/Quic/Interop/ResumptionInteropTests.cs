using System.Globalization;
using Xunit;

namespace FastRelay.Tests.Quic.Interop;

/// <summary>
/// Session resumption with 0-RTT against ngtcp2 in both directions: a first connection stores a ticket (our session file,
/// gtlsclient's --session-file/--tp-file), the second resumes and sends its request as early data, which must be accepted.
/// </summary>
public sealed class ResumptionInteropTests
{
    [Ngtcp2Fact]
    public async Task Our_client_resumes_against_gtlsserver_with_0rtt_accepted()
    {
        await using var harness = new InteropHarness();
        var expected = harness.CreateFile("small.txt", 4321);
        int port = InteropHarness.FreeUdpPort();
        var server = harness.StartGtlsServer(port, "-q");
        await InteropHarness.WaitForUdpListenerAsync(port, server, TimeSpan.FromSeconds(10));
        string session = Path.Combine(harness.Root, "session.bin"), output = Path.Combine(harness.Downloads, "small.txt");

        async Task<string> GetAsync()
        {
            if (File.Exists(output)) File.Delete(output);
            var client = harness.StartFastRelay(["quic", "get", "--insecure", "-v", "--session-file", session, "-o", output,
                $"https://127.0.0.1:{port}/small.txt"]);
            Assert.True(await client.WaitForExitAsync(InteropHarness.DefaultTimeout) == 0, harness.Transcript());
            InteropHarness.AssertSameFile(expected, output, harness.Transcript());
            return client.Output;
        }

        var first = await GetAsync();
        Assert.Contains("full handshake, 0-RTT NotAttempted", first);
        Assert.True(File.Exists(session), "no ticket stored from gtlsserver\n" + harness.Transcript());
        var second = await GetAsync();
        Assert.Contains("0-RTT keys installed", second);
        Assert.True(second.Contains("resumed, 0-RTT Accepted", StringComparison.Ordinal), harness.Transcript());
    }

    [Ngtcp2Fact]
    public async Task Gtlsclient_resumes_against_our_server_with_0rtt_accepted()
    {
        await using var harness = new InteropHarness();
        var expected = harness.CreateFile("small.txt", 2345);
        int port = InteropHarness.FreeUdpPort();
        var server = harness.StartFastRelay(["quic", "serve", "-v", "--root", harness.Htdocs, "--port", port.ToString(CultureInfo.InvariantCulture),
            "--cert", harness.CertificatePath, "--key", harness.KeyPath]);
        await server.WaitForOutputAsync("listening on", TimeSpan.FromSeconds(30));
        string session = Path.Combine(harness.Root, "session.pem"), parameters = Path.Combine(harness.Root, "tp.txt");
        string output = Path.Combine(harness.Downloads, "small.txt");

        async Task<string[]> FetchAsync()
        {
            if (File.Exists(output)) File.Delete(output);
            var client = harness.StartGtlsClient(port, [$"--session-file={session}", $"--tp-file={parameters}"], "/small.txt");
            Assert.True(await client.WaitForExitAsync(InteropHarness.DefaultTimeout) == 0, harness.Transcript());
            InteropHarness.AssertSameFile(expected, output, harness.Transcript());
            return client.Output.Split('\n');
        }

        await FetchAsync();
        Assert.True(File.Exists(session) && File.Exists(parameters), "our server issued no ticket gtlsclient could store\n" + harness.Transcript());
        var log = await FetchAsync();
        // The request went as early data (the request stream, id 0, in a 0-RTT packet), and nothing says it was refused.
        Assert.Contains(log, l => l.Contains("frm tx", StringComparison.Ordinal) && l.Contains("0RTT STREAM", StringComparison.Ordinal)
            && l.Contains("id=0x0 ", StringComparison.Ordinal));
        Assert.DoesNotContain(log, l => l.Contains("Early data was rejected", StringComparison.Ordinal));
        // Our server read it with 0-RTT keys.
        await WaitForAsync(() => server.Output.Contains("0-RTT keys installed", StringComparison.Ordinal));
        Assert.Contains("0-RTT keys installed", server.Output);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (int i = 0; i < 100 && !condition(); i++) await Task.Delay(50);
    }
}
