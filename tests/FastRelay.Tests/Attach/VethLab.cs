using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using FastRelay.Net;

namespace FastRelay.Tests.Attach;

/// <summary>
/// Two fresh network namespaces joined by a veth pair, all named with a unique <c>frat&lt;hex&gt;</c> prefix (or the caller's):
/// A (10.199.0.1/24, fd99::1/64) ↔ B (10.199.0.2/24, fd99::2/64), fixed MACs, and permanent neighbour entries in A
/// for B. Dispose deletes both namespaces (and with them the veths and every filter), also after a failed setup.
/// </summary>
internal sealed class VethLab : IDisposable
{
    public static readonly IPAddress AddrA = IPAddress.Parse("10.199.0.1"), AddrB = IPAddress.Parse("10.199.0.2");
    public static readonly IPAddress Addr6A = IPAddress.Parse("fd99::1"), Addr6B = IPAddress.Parse("fd99::2");
    public const string MacA = "02:fa:57:00:00:01", MacB = "02:fa:57:00:00:02";

    public string Prefix { get; }
    public string NsA => Prefix + "A";
    public string NsB => Prefix + "B";
    public string DevA => Prefix + "a";
    public string DevB => Prefix + "b";
    public NetworkNamespace A { get; private set; } = null!;
    public NetworkNamespace B { get; private set; } = null!;
    public int IfindexA { get; private set; }
    public int IfindexB { get; private set; }

    /// <param name="prefix">The owner's name prefix (each test area has its own), followed by random hex.</param>
    public VethLab(string prefix = "frat")
    {
        Prefix = prefix + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3));
        try
        {
            Run("ip", "netns", "add", NsA);
            Run("ip", "netns", "add", NsB);
            Run("ip", "link", "add", DevA, "netns", NsA, "address", MacA, "type", "veth", "peer", "name", DevB, "netns", NsB, "address", MacB);
            foreach (var (ns, dev, v4, v6) in new[] { (NsA, DevA, AddrA, Addr6A), (NsB, DevB, AddrB, Addr6B) })
            {
                Run("ip", "-n", ns, "addr", "add", $"{v4}/24", "dev", dev);
                Run("ip", "-n", ns, "addr", "add", $"{v6}/64", "dev", dev, "nodad");
                Run("ip", "-n", ns, "link", "set", dev, "up");
                Run("ip", "-n", ns, "link", "set", "lo", "up");
            }
            Run("ip", "-n", NsA, "neigh", "replace", AddrB.ToString(), "lladdr", MacB, "dev", DevA, "nud", "permanent");
            Run("ip", "-n", NsA, "neigh", "replace", Addr6B.ToString(), "lladdr", MacB, "dev", DevA, "nud", "permanent");
            Run("ip", "-n", NsB, "neigh", "replace", AddrA.ToString(), "lladdr", MacA, "dev", DevB, "nud", "permanent");
            A = NetworkNamespace.Open(NsA);
            B = NetworkNamespace.Open(NsB);
            IfindexA = A.Run(() => NetDevice.IndexOf(DevA));
            IfindexB = B.Run(() => NetDevice.IndexOf(DevB));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Sends <paramref name="count"/> UDP datagrams from A to B (B's ingress, A's egress).</summary>
    public void SendAToB(int count) => Send(A, AddrB, count);

    /// <summary>Sends from B to A (B's egress).</summary>
    public void SendBToA(int count) => Send(B, AddrA, count);

    private static void Send(NetworkNamespace ns, IPAddress to, int count) => ns.Run(() =>
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var payload = new byte[32];
        for (int i = 0; i < count; i++) s.SendTo(payload, new IPEndPoint(to, 9));
    });

    /// <summary><c>tc</c> inside namespace <paramref name="ns"/>.</summary>
    public string Tc(string ns, params string[] args) => Run(["ip", "netns", "exec", ns, "tc", .. args]);

    public string TcFilters(string ns, string dev, string direction) => Tc(ns, "filter", "show", "dev", dev, direction);

    public static string Run(params string[] args)
    {
        var psi = new ProcessStartInfo(args[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args.Skip(1)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{string.Join(' ', args)} exited {p.ExitCode}: {err.Result}{output}");
        return output;
    }

    public void Dispose()
    {
        A?.Dispose();
        B?.Dispose();
        foreach (var ns in new[] { NsA, NsB })
        {
            try { Run("ip", "netns", "del", ns); }
            catch (InvalidOperationException) { /* never created */ }
        }
    }
}
