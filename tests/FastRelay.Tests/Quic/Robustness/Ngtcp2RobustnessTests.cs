using System.Diagnostics;
using System.Globalization;
using FastRelay.Tests.Quic.Interop;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Quic.Robustness;

/// <summary>ngtcp2's gtlsclient against `fastrelay quic serve` where the network or the client makes it hard.</summary>
public sealed class Ngtcp2RobustnessTests(ITestOutputHelper output)
{
    private static async Task<InteropProcess> StartOurServerAsync(InteropHarness harness, int port, params string[] options)
    {
        var server = harness.StartFastRelay(["quic", "serve", "--root", harness.Htdocs, "--port", port.ToString(CultureInfo.InvariantCulture),
            "--cert", harness.CertificatePath, "--key", harness.KeyPath, .. options]);
        await server.WaitForOutputAsync("listening on", TimeSpan.FromSeconds(30));
        return server;
    }

    /// <summary>
    /// gtlsclient resumes with a ticket from gtlsserver, so its first datagram to us is an Initial (ClientHello with a PSK
    /// and early_data) coalesced with 0-RTT packets that carry the padding — the Initial alone is under 1200 bytes. A
    /// gtlsserver ticket does not open under our ticket key, so the server must answer that first Initial with a full handshake at
    /// once (it used to drop it for its size and wait for the client's retransmission a PTO later), the client must
    /// see its early data rejected and fetch over 1-RTT.
    /// </summary>
    [Ngtcp2Fact]
    public async Task A_0RTT_attempt_is_answered_at_once_with_a_full_handshake()
    {
        await using var harness = new InteropHarness();
        var expected = harness.CreateFile("small.txt", 1234);
        string session = Path.Combine(harness.Root, "session.pem"), parameters = Path.Combine(harness.Root, "tp.txt");

        int theirPort = InteropHarness.FreeUdpPort();
        var gtlsserver = harness.StartGtlsServer(theirPort, "-q");
        await InteropHarness.WaitForUdpListenerAsync(theirPort, gtlsserver, TimeSpan.FromSeconds(10));
        var ticket = harness.StartGtlsClient(theirPort, ["-q", $"--session-file={session}", $"--tp-file={parameters}"], "/small.txt");
        Assert.True(await ticket.WaitForExitAsync(InteropHarness.DefaultTimeout) == 0, harness.Transcript());
        Assert.True(File.Exists(session), "gtlsserver issued no ticket: the test cannot make gtlsclient try 0-RTT");

        int ourPort = InteropHarness.FreeUdpPort();
        await StartOurServerAsync(harness, ourPort);
        // A first ordinary connection so the measured one meets a warm server (JIT), not a cold one.
        var warm = harness.StartGtlsClient(ourPort, ["-q"], "/small.txt");
        Assert.True(await warm.WaitForExitAsync(InteropHarness.DefaultTimeout) == 0, harness.Transcript());
        File.Delete(Path.Combine(harness.Downloads, "small.txt"));

        var client = harness.StartGtlsClient(ourPort, [$"--session-file={session}", $"--tp-file={parameters}"], "/small.txt");
        Assert.True(await client.WaitForExitAsync(InteropHarness.DefaultTimeout) == 0, harness.Transcript());
        InteropHarness.AssertSameFile(expected, Path.Combine(harness.Downloads, "small.txt"), harness.Transcript());
        var log = client.Output.Split('\n');
        Assert.Contains(log, l => l.Contains("type=0RTT", StringComparison.Ordinal) && l.Contains("pkt tx", StringComparison.Ordinal));
        Assert.Contains(log, l => l.Contains("Early data was rejected by server", StringComparison.Ordinal));
        // The server answered the client's first Initial: no second client Initial went out before the server's first.
        int firstServerInitial = Array.FindIndex(log, l => l.Contains("pkt rx", StringComparison.Ordinal) && l.Contains("type=Initial", StringComparison.Ordinal));
        Assert.True(firstServerInitial > 0, "no server Initial in the client's log");
        int clientInitialsBefore = log.Take(firstServerInitial).Count(l => l.Contains("pkt tx", StringComparison.Ordinal) && l.Contains("type=Initial", StringComparison.Ordinal));
        Assert.True(clientInitialsBefore == 1, $"the client sent {clientInitialsBefore} Initials before the server answered\n{client.Output}");
    }

    /// <summary>
    /// The loop of issue 12: gtlsclient with 30% loss each way fetches a small file again and again, from our server and
    /// from gtlsserver. gtlsclient simulates the loss itself and says so for every datagram it drops, so a fetch that
    /// fails is explained by its own log — every Initial it sent dropped on the way out, or everything that came back
    /// dropped on the way in — or it is our server's fault (a stalled handshake: it once stopped retransmitting its flight
    /// when its endpoint thread blocked). The time distributions are printed side by side.
    /// </summary>
    [Ngtcp2Fact]
    public async Task Under_30_percent_loss_our_server_never_stalls_a_handshake()
    {
        const int Runs = 8;
        await using var harness = new InteropHarness();
        var expected = harness.CreateFile("small.txt", 1234);
        int ourPort = InteropHarness.FreeUdpPort();
        // The server's qlog goes into the failure message: a rare run (about 1 in 3 full-suite runs on two loaded cores) saw
        // our server fall silent for 30 s after the client's Finished; the client log alone cannot say why.
        var qlogDir = Path.Combine(harness.Root, "qlog");
        await StartOurServerAsync(harness, ourPort, "--qlog-dir", qlogDir);
        int theirPort = InteropHarness.FreeUdpPort();
        var gtlsserver = harness.StartGtlsServer(theirPort, "-q");
        await InteropHarness.WaitForUdpListenerAsync(theirPort, gtlsserver, TimeSpan.FromSeconds(10));

        string ServerQlogTail()
        {
            if (!Directory.Exists(qlogDir)) return "(no server qlog)";
            var newest = new DirectoryInfo(qlogDir).GetFiles().OrderBy(f => f.LastWriteTimeUtc).LastOrDefault();
            if (newest is null) return "(no server qlog)";
            var lines = File.ReadAllLines(newest.FullName);
            return $"server qlog {newest.Name} (last 60 of {lines.Length} lines):\n" + string.Join('\n', lines.TakeLast(60));
        }

        async Task<(List<double> Seconds, int Completed, int ExcusedByClientLoss)> Loop(int port, string name)
        {
            var seconds = new List<double>();
            int completed = 0, excused = 0;
            for (int i = 0; i < Runs; i++)
            {
                string file = Path.Combine(harness.Downloads, "small.txt");
                if (File.Exists(file)) File.Delete(file);
                var watch = Stopwatch.StartNew();
                // Not -q: gtlsclient then logs every packet and every datagram its loss simulation drops.
                var client = harness.StartGtlsClient(port, ["-t", "0.3", "-r", "0.3", "--handshake-timeout=15s"], "/small.txt");
                int exit = await client.WaitForExitAsync(InteropHarness.DefaultTimeout);
                seconds.Add(watch.Elapsed.TotalSeconds);
                if (exit == 0 && File.Exists(file) && File.ReadAllBytes(file).AsSpan().SequenceEqual(expected))
                {
                    completed++;
                    continue;
                }
                var log = client.Output.Split('\n');
                int processed = log.Count(l => l.Contains(" pkt rx ", StringComparison.Ordinal));
                int initialsSent = log.Count(l => l.Contains("Initial CRYPTO", StringComparison.Ordinal) && l.Contains("frm tx", StringComparison.Ordinal));
                int droppedOut = log.Count(l => l.Contains("Simulated outgoing packet loss", StringComparison.Ordinal));
                int droppedIn = log.Count(l => l.Contains("Simulated incoming packet loss", StringComparison.Ordinal));
                bool clientLossExplains = processed == 0 && (droppedOut >= initialsSent || droppedIn > 0);
                if (!clientLossExplains && port != ourPort)
                {
                    // gtlsserver is the reference the timings are compared with, not what this test holds to account: it
                    // too was seen waiting out a run whose client lost its Finished four times in a row (1, 2, 4, 8 s PTOs).
                    output.WriteLine($"{name}: run {i} failed too ({processed} packets processed, {droppedOut} dropped out, {droppedIn} dropped in)");
                    excused++;
                    continue;
                }
                Assert.True(clientLossExplains,
                    $"{name}: run {i} failed (exit {exit}, {watch.Elapsed.TotalSeconds:F1} s) with {processed} packets processed, {initialsSent} Initials sent, " +
                    $"{droppedOut} dropped out, {droppedIn} dropped in: not explained by the client's simulated loss\n{client.Output}\n" +
                    (port == ourPort ? ServerQlogTail() : ""));
                excused++;
            }
            return (seconds, completed, excused);
        }

        var ours = await Loop(ourPort, "our server");
        var theirs = await Loop(theirPort, "gtlsserver");
        static string Describe((List<double> Seconds, int Completed, int Excused) r)
        {
            var sorted = r.Seconds.Order().ToList();
            return string.Create(CultureInfo.InvariantCulture,
                $"{r.Completed} completed, {r.Excused} lost entirely to the client's own simulated loss; median {sorted[sorted.Count / 2]:F2} s, " +
                $"max {sorted[^1]:F2} s, all [{string.Join(", ", r.Seconds.Select(x => x.ToString("F2", CultureInfo.InvariantCulture)))}]");
        }
        output.WriteLine($"30% loss each way, {Runs} fetches each. Ours: {Describe(ours)}. gtlsserver: {Describe(theirs)}.");
        Assert.True(ours.Completed >= Runs / 2, $"only {ours.Completed} of {Runs} fetches completed");
    }
}
