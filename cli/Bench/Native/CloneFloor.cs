using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using FastRelay.Bpf;
using FastRelay.Cli.Lab;

namespace FastRelay.Cli.Bench.Native;

/// <summary>One copy of the clone floor: out of <paramref name="IfIndex"/> (whose MAC is <paramref name="SourceMac"/>) to
/// <paramref name="DestinationMac"/>, rewritten to <paramref name="Source"/> → <paramref name="Destination"/>. Both
/// endpoints must have the same family; a packet of the other family skips the target.</summary>
public sealed record CloneFloorTarget(int IfIndex, PhysicalAddress SourceMac, PhysicalAddress DestinationMac, IPEndPoint Source, IPEndPoint Destination);

/// <summary>
/// The kernel fan-out floor of the bench: bpf-templates/bench/clone_floor.bpf.c, the FastRelay fast path's technique
/// with nothing on top. <see cref="ProgramName"/> on a relay device's TC ingress (TCX when available) tags one clone of a
/// UDP datagram to <see cref="Port"/> per target and redirects it to the egress of the target's device, where
/// <see cref="EgressProgramName"/> (attached to every target device) rewrites the clone (MACs, addresses, ports,
/// IPv4/UDP checksums); the original is never written and is dropped. Dispose detaches and unloads.
/// </summary>
public sealed class CloneFloor : IDisposable
{
    public const string ProgramName = "bench_clone_floor";
    public const string EgressProgramName = "bench_clone_floor_egress";
    public const int MaxTargets = 64;

    /// <summary>sizeof(struct bench_target) in clone_floor.bpf.c.</summary>
    internal const int TargetSize = 56;

    /// <summary>sizeof(struct bench_config).</summary>
    internal const int ConfigSize = 8;

    private const uint AfInet = 2, AfInet6 = 10;

    private readonly BpfObject _object;
    private readonly TcAttachment _attachment;
    private readonly IReadOnlyList<TcAttachment> _egressAttachments;

    private CloneFloor(BpfObject obj, TcAttachment attachment, IReadOnlyList<TcAttachment> egressAttachments, int port, IReadOnlyList<CloneFloorTarget> targets)
    {
        _object = obj;
        _attachment = attachment;
        _egressAttachments = egressAttachments;
        Port = port;
        Targets = targets;
    }

    public int Port { get; }
    public IReadOnlyList<CloneFloorTarget> Targets { get; }

    /// <summary>The ingress attachment (mode, ifindex, program id).</summary>
    public TcAttachment Attachment => _attachment;

    /// <summary>The egress attachments, one per distinct target device.</summary>
    public IReadOnlyList<TcAttachment> EgressAttachments => _egressAttachments;

    /// <summary>The ingress program (the fan-out; the egress program runs inside it).</summary>
    public BpfProgram Program => _object.Program(ProgramName);

    /// <summary>
    /// Attaches the floor in a lab: ingress on the relay's upstream device, copies out of the downstream device from the
    /// relay's downstream address and port <paramref name="port"/> to each of <paramref name="targets"/> (subscriber
    /// addresses, IPv4 or IPv6; the subscriber's MAC is looked up in the lab). The publisher sends to the relay's upstream
    /// address, port <paramref name="port"/>.
    /// </summary>
    public static Task<CloneFloor> AttachAsync(LabNetwork lab, string objectPath, int port, IReadOnlyList<IPEndPoint> targets,
        CancellationToken cancellationToken = default, bool rotate = false)
    {
        var down = lab.RelayDownstream;
        var resolved = targets.Select(t =>
        {
            var host = lab.Subscribers.FirstOrDefault(h => h.Interfaces.Any(i => i.IPv4.Equals(t.Address) || i.IPv6.Equals(t.Address)))
                ?? throw new ArgumentException($"{t.Address} is not a subscriber of lab {lab.Prefix}", nameof(targets));
            return new CloneFloorTarget(down.IfIndex, down.Mac, host.Mac, new IPEndPoint(down.Address(t.AddressFamily), port), t);
        }).ToList();
        return Task.Run(() => Attach(lab.Relay.Namespace, lab.RelayUpstream.IfIndex, objectPath, port, resolved, rotate), cancellationToken);
    }

    /// <summary>Loads the object, fills the maps, attaches the egress program to every target device's egress and then the
    /// fan-out to <paramref name="ingressIfIndex"/>'s ingress, inside network namespace <paramref name="netns"/> (a name
    /// under /run/netns).</summary>
    public static CloneFloor Attach(string netns, int ingressIfIndex, string objectPath, int port, IReadOnlyList<CloneFloorTarget> targets, bool rotate = false)
    {
        ArgumentOutOfRangeException.ThrowIfZero(targets.Count, nameof(targets));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(targets.Count, MaxTargets, nameof(targets));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, ushort.MaxValue);
        var obj = BpfObject.Load(objectPath);
        try
        {
            var targetMap = obj.Map("bench_targets");
            var configMap = obj.Map("bench_config");
            if (targetMap.ValueSize != TargetSize || configMap.ValueSize != ConfigSize)
                throw new InvalidOperationException(
                    $"{objectPath}: struct bench_target is {targetMap.ValueSize} bytes (expected {TargetSize}), bench_config {configMap.ValueSize} (expected {ConfigSize})");
            Span<byte> key = stackalloc byte[4];
            Span<byte> value = stackalloc byte[TargetSize];
            for (var i = 0; i < targets.Count; i++)
            {
                MemoryMarshal.Write(key, (uint)i);
                EncodeTarget(targets[i], value);
                targetMap.Update(key, value);
            }
            MemoryMarshal.Write(key, 0u);
            Span<byte> config = stackalloc byte[ConfigSize];
            MemoryMarshal.Write(config, (uint)targets.Count);
            MemoryMarshal.Write(config[4..], (ushort)port);
            MemoryMarshal.Write(config[6..], rotate ? (ushort)1 : (ushort)0);
            configMap.Update(key, config);

            var program = obj.Program(ProgramName);
            var egressProgram = obj.Program(EgressProgramName);
            var egress = new List<TcAttachment>();
            try
            {
                // Egress first: a clone that reached an egress without the rewrite would leave with upstream addressing.
                foreach (var ifIndex in targets.Select(t => t.IfIndex).Distinct())
                    egress.Add(NetnsThread.Run(netns, () => TcAttach.Attach(egressProgram, ifIndex, TcDirection.Egress)));
                var attachment = NetnsThread.Run(netns, () => TcAttach.Attach(program, ingressIfIndex, TcDirection.Ingress));
                return new CloneFloor(obj, attachment, egress, port, targets);
            }
            catch
            {
                foreach (var a in egress)
                    a.Dispose();
                throw;
            }
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }

    /// <summary>struct bench_target: u32 ifindex, u8 mac_src[6], u8 mac_dst[6], u32 family, u8 src_ip[16], u8 dst_ip[16],
    /// be16 src_port, be16 dst_port (native-endian u32s, network-order addresses and ports).</summary>
    internal static void EncodeTarget(CloneFloorTarget target, Span<byte> value)
    {
        if (target.Source.AddressFamily != target.Destination.AddressFamily)
            throw new ArgumentException($"target {target.Destination}: source {target.Source} has another address family");
        value.Clear();
        MemoryMarshal.Write(value, (uint)target.IfIndex);
        target.SourceMac.GetAddressBytes().AsSpan(0, 6).CopyTo(value[4..]);
        target.DestinationMac.GetAddressBytes().AsSpan(0, 6).CopyTo(value[10..]);
        MemoryMarshal.Write(value[16..], target.Destination.AddressFamily == AddressFamily.InterNetworkV6 ? AfInet6 : AfInet);
        target.Source.Address.GetAddressBytes().CopyTo(value[20..]);
        target.Destination.Address.GetAddressBytes().CopyTo(value[36..]);
        BinaryPrimitives.WriteUInt16BigEndian(value[52..], (ushort)target.Source.Port);
        BinaryPrimitives.WriteUInt16BigEndian(value[54..], (ushort)target.Destination.Port);
    }

    /// <summary>Cumulative run time and run count of the ingress program (non-zero only while kernel.bpf_stats_enabled=1).
    /// The egress program runs inside its bpf_clone_redirect calls, so its time is already included and is not added.</summary>
    public (long RunTimeNs, long RunCount) RunStats()
    {
        var info = Program.GetInfo();
        return (info.RunTime.Ticks * 100, (long)info.RunCount);
    }

    public void Dispose()
    {
        _attachment.Dispose(); // ingress first: no more clones
        foreach (var a in _egressAttachments)
            a.Dispose();
        _object.Dispose();
    }
}
