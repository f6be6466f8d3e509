using Xunit;

namespace FastRelay.Tests.Quic.Interop;

/// <summary>`fastrelay quic get` (our QUIC + HTTP/3 client, run as a process) against ngtcp2's gtlsserver.</summary>
public sealed class OurClientInteropTests
{
    /// <summary>Starts gtlsserver with <paramref name="serverOptions"/>, downloads <paramref name="files"/> with one
    /// `quic get` (one connection) and checks every file byte for byte.</summary>
    private static async Task<string> Download(Dictionary<string, int> files, string[] serverOptions, params string[] clientOptions)
    {
        await using var harness = new InteropHarness();
        var expected = files.ToDictionary(f => f.Key, f => harness.CreateFile(f.Key, f.Value, seed: f.Key.GetHashCode(StringComparison.Ordinal)));
        int port = InteropHarness.FreeUdpPort();
        var server = harness.StartGtlsServer(port, ["-q", .. serverOptions]);
        await InteropHarness.WaitForUdpListenerAsync(port, server, TimeSpan.FromSeconds(10));
        string output = files.Count == 1 ? Path.Combine(harness.Downloads, files.Keys.Single()) : harness.Downloads;
        var client = harness.StartFastRelay(["quic", "get", "--insecure", "-o", output, .. clientOptions,
            .. files.Keys.Select(f => $"https://127.0.0.1:{port}/{f}")]);
        int exit = await client.WaitForExitAsync(InteropHarness.DefaultTimeout);
        Assert.True(exit == 0, $"quic get exited {exit}\n{harness.Transcript()}");
        foreach (var (name, content) in expected)
            InteropHarness.AssertSameFile(content, Path.Combine(harness.Downloads, name), harness.Transcript());
        return client.Output;
    }

    [Ngtcp2Fact]
    public Task Handshake_and_small_file() =>
        Download(new() { ["small.txt"] = 1234 }, []);

    [Ngtcp2Fact]
    public Task Ten_MB_byte_identical() =>
        Download(new() { ["big.bin"] = 10 * 1024 * 1024 }, []);

    [Ngtcp2Fact]
    public Task Two_hundred_files_on_one_connection() =>
        Download(Enumerable.Range(0, 200).ToDictionary(i => $"f{i:D3}.bin", i => 100 + i * 37), []);

    [Ngtcp2Fact]
    public Task Handshake_under_30_percent_loss() =>
        Download(new() { ["small.txt"] = 1234 }, ["-t", "0.3", "-r", "0.3"], "--handshake-timeout", "40");

    [Ngtcp2Fact]
    public Task Ten_MB_under_2_percent_loss() =>
        Download(new() { ["big.bin"] = 10 * 1024 * 1024 }, ["-t", "0.02", "-r", "0.02"]);

    [Ngtcp2Fact]
    public async Task Retry()
    {
        string log = await Download(new() { ["small.txt"] = 1234 }, ["-V"], "-v");
        Assert.Contains("retry: new destination", log);
    }

    [Ngtcp2Fact]
    public async Task Hello_retry_request()
    {
        // gtlsserver accepts only P-384; our client's first key share is X25519, so the server asks again.
        string log = await Download(new() { ["small.txt"] = 1234 }, ["--groups=-GROUP-ALL:+GROUP-SECP384R1"], "-v");
        Assert.Contains("hello retry request: yes", log);
    }

    [Ngtcp2Fact]
    public async Task Key_update()
    {
        string output = await Download(new() { ["big.bin"] = 10 * 1024 * 1024 }, [], "--key-update");
        // The transfer survived, and the write keys really moved on (the client reports its key generation).
        Assert.Contains("key generation 1", output);
    }
}
