using System.Net.NetworkInformation;
using FastRelay.Bpf;
using FastRelay.Generated;
using FastRelay.Net;
using Microsoft.Extensions.Logging;

namespace FastRelay.Relay;

/// <summary>What a relay needs to put a generated fast path into the kernel.</summary>
public sealed record FastPathHostOptions(
    GeneratedProtocol Protocol,
    string ObjectPath,
    string Instance,
    IReadOnlyList<string>? Interfaces = null,
    string BpfFsRoot = BpfFs.DefaultRoot,
    TcAttachMode AttachMode = TcAttachMode.Auto);

/// <summary>
/// Loads a generated object, checks every shared struct against its BTF, pins its maps under
/// <c>&lt;bpffs&gt;/fastrelay/&lt;instance&gt;</c> (so `bpftool map dump pinned` and `fastrelay status` can read them), removes
/// filters a killed relay left behind, and attaches the three programs to every relay interface: upstream and
/// subscriber ingress on ingress, subscriber egress on egress. Every program is attached on every interface, which
/// serves one-interface and two-interface relays alike (each program acts only on its own packets). Stacked devices
/// (bridge ports, bond slaves) are replaced by the device on top, see <see cref="AttachPlan"/>; every device with the
/// egress program is written into fr_egress_devices, the only devices upstream ingress clones to. Dispose detaches
/// exactly what it attached and removes the pins.
/// </summary>
public sealed class FastPathHost : IDisposable
{
    private readonly List<TcAttachment> _attachments = new();
    private readonly BpfPinDirectory _pins;
    private readonly ILogger _log;
    private string? _upstreamIngress;
    private int _disposed;

    private FastPathHost(BpfObject bpf, BpfPinDirectory pins, ILogger log)
    {
        Object = bpf;
        _pins = pins;
        _log = log;
    }

    public BpfObject Object { get; }

    public string PinPath => _pins.Path;

    public IReadOnlyList<TcAttachment> Attachments => _attachments;

    /// <summary>The generated map of devices with the egress program (ifindex → 1), written by the host only.</summary>
    public const string EgressDevicesMap = "fr_egress_devices";

    /// <summary>Whether upstream ingress of <paramref name="bpf"/> clones to <paramref name="ifindex"/>: a host attached its
    /// egress program there. A subscriber whose route leaves through any other device gets no kernel copies, so a relay
    /// must serve it from userspace.</summary>
    public static bool ClonesTo(BpfObject bpf, int ifindex) => bpf.Map(EgressDevicesMap).TryLookup<uint, uint>((uint)ifindex, out _);

    public static FastPathHost Start(FastPathHostOptions options, ILogger log)
    {
        BpfFs.EnsureMounted(options.BpfFsRoot, log);
        var pins = BpfPinDirectory.Create(options.Instance, options.BpfFsRoot, log);
        BpfObject? bpf = null;
        FastPathHost? host = null;
        try
        {
            bpf = BpfObject.Open(options.ObjectPath);
            bpf.Load();
            BtfLayoutCheck.Verify(bpf, options.Protocol.Structs);
            // Key material (an object with encrypted subscriber slots) stays with this process: never pinned where others can open it.
            pins.PinMaps(bpf, filter: m => !FastRelay.Bpf.Crypto.QuicKernelCrypto.HoldsKeyMaterial(m.Name));
            host = new FastPathHost(bpf, pins, log);
            var plan = AttachPlan.For(options.Interfaces ?? DefaultInterfaces(), LinkTable.Read());
            foreach (var note in plan.Notes)
                log.LogInformation("{Note}", note);
            // A killed relay that attached to every device (before AttachPlan) may have left filters on ports and lower
            // devices; they would still number this relay's subscribers' packets a second time there.
            foreach (var device in plan.Skipped)
                foreach (var stale in StaleAttachments.Remove(device.Ifindex, log))
                    log.LogWarning("removed a stale FastRelay filter on {Device}: {Filter}", device.Name, stale);
            foreach (var device in plan.Devices)
                host.AttachAll(device, options);
            return host;
        }
        catch
        {
            if (host is not null)
                host.Dispose();
            else
            {
                bpf?.Dispose();
                pins.Dispose();
            }
            throw;
        }
    }

    /// <summary>Every interface that is up, except loopback (clones cannot be redirected usefully there).</summary>
    public static IReadOnlyList<string> DefaultInterfaces() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.NetworkInterfaceType != NetworkInterfaceType.Loopback && n.OperationalStatus != OperationalStatus.Down)
            .Select(n => n.Name)
            .Order(StringComparer.Ordinal)
            .ToList();

    private void AttachAll(PlannedDevice planned, FastPathHostOptions options)
    {
        var (device, ifindex) = (planned.Name, planned.Ifindex);
        foreach (var stale in StaleAttachments.Remove(ifindex, _log))
            _log.LogWarning("removed a stale FastRelay filter on {Device}: {Filter}", device, stale);
        var programs = options.Protocol.Programs;
        _upstreamIngress = programs[0];
        Attach(programs[0], ifindex, TcDirection.Ingress, options.AttachMode);   // upstream ingress
        Attach(programs[1], ifindex, TcDirection.Ingress, options.AttachMode);   // subscriber ingress
        Attach(programs[2], ifindex, TcDirection.Egress, options.AttachMode);    // subscriber egress
        // Only now may upstream ingress clone to this device: a clone that met no egress program would leave unrewritten.
        Object.Map(EgressDevicesMap).Update((uint)ifindex, 1u);
        _log.LogInformation("fast path attached on {Device} (ifindex {Ifindex}, {Mode})", device, ifindex, _attachments[^1].Mode);
    }

    /// <summary>
    /// Kernel time spent in the upstream ingress program so far and its runs (bpf_stats: both stay 0 unless
    /// kernel.bpf_stats_enabled is 1). Only that program: the egress program runs inside its bpf_clone_redirect calls, so
    /// its time is already counted here (adding both would count every copy twice). Softirq time, charged to no relay
    /// thread: what a per-copy CPU figure from the relay's own threads leaves out.
    /// </summary>
    public (long RunTimeNs, long Runs) UpstreamIngressRunTime()
    {
        if (_upstreamIngress is not { } name) return (0, 0);
        var info = Object.Program(name).GetInfo();
        return (info.RunTime.Ticks * 100, (long)info.RunCount);
    }

    private void Attach(string program, int ifindex, TcDirection direction, TcAttachMode mode) =>
        _attachments.Add(TcAttach.Attach(Object.Program(program), ifindex, direction, mode, _log));

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        for (var i = _attachments.Count - 1; i >= 0; i--)
            _attachments[i].Dispose();
        _pins.Dispose();
        Object.Dispose();
    }
}
