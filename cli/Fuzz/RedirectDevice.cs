using System.Diagnostics;

namespace FastRelay.Cli.Fuzz;

/// <summary>
/// A device that swallows the clones upstream ingress redirects during BPF_PROG_TEST_RUN (`fastrelay fuzz bpf` and the
/// packet tests): a veth whose peer stays down
/// (veth_xmit drops and counts in tx_dropped; nothing reaches any stack). A dummy device would do the same, but the
/// dummy driver is not available on every kernel we run on (e.g. "Unknown device type" here). Deleting the veth
/// deletes its peer; Dispose does it even when the test failed.
/// </summary>
public sealed class RedirectDevice : IDisposable
{
    private bool _disposed;

    private RedirectDevice(string name)
    {
        Name = name;
        IfIndex = uint.Parse(File.ReadAllText($"/sys/class/net/{name}/ifindex").Trim());
    }

    public string Name { get; }
    public uint IfIndex { get; }

    /// <summary>Clones that reached the device (dropped there because the peer is down).</summary>
    public ulong TxDropped => ulong.Parse(File.ReadAllText($"/sys/class/net/{Name}/statistics/tx_dropped").Trim());

    /// <param name="mtu">The device's MTU (null: the veth default, 1500).</param>
    public static RedirectDevice Create(string prefix = "frpk", int? mtu = null)
    {
        var name = prefix + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray(), 0, 4);
        Ip($"link add {name} type veth peer name {name}p");
        try
        {
            if (mtu is { } m)
                Ip($"link set {name} mtu {m}");
            Ip($"link set {name} up");
            return new RedirectDevice(name);
        }
        catch
        {
            TryDelete(name);
            throw;
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        TryDelete(Name);
    }

    private static void TryDelete(string name)
    {
        if (Directory.Exists($"/sys/class/net/{name}"))
            Ip($"link del {name}");
    }

    private static void Ip(string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo("ip", arguments)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"ip {arguments}: exit {process.ExitCode}: {error.Trim()}");
    }
}
