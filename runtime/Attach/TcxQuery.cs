using System.Runtime.InteropServices;
using FastRelay.Bpf.Native;

namespace FastRelay.Bpf;

/// <summary>
/// Which programs are attached to a device's TCX hook (BPF_PROG_QUERY with the ifindex as target). bpftool 7.1 shows
/// TCX links without their device, so this is how `status`, tests and operators see what is really attached.
/// </summary>
public static unsafe partial class TcxQuery
{
    /// <summary>Program ids attached through TCX to <paramref name="ifindex"/> in the calling thread's namespace,
    /// in run order; empty when none (or the kernel has no TCX).</summary>
    public static IReadOnlyList<uint> AttachedPrograms(int ifindex, TcDirection direction)
    {
        var ids = new uint[64];
        fixed (uint* p = ids)
        {
            var opts = new QueryOpts { Size = (nuint)sizeof(QueryOpts), ProgIds = p, ProgCount = (uint)ids.Length };
            var type = direction == TcDirection.Ingress ? TcAttach.BPF_TCX_INGRESS : TcAttach.BPF_TCX_EGRESS;
            var err = bpf_prog_query_opts(ifindex, type, &opts);
            if (err < 0)
                return err == -LibC.EINVAL ? [] : throw new BpfException($"query TCX programs on ifindex {ifindex} {direction}", -err);
            return ids.AsSpan(0, (int)opts.ProgCount).ToArray();
        }
    }

    /// <summary>libbpf 1.1 <c>struct bpf_prog_query_opts</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct QueryOpts
    {
        public nuint Size;
        public uint QueryFlags;
        public uint AttachFlags;
        public uint* ProgIds;
        public uint ProgCount;
        public uint* ProgAttachFlags;
    }

    [LibraryImport("libbpf.so.1")]
    private static partial int bpf_prog_query_opts(int target, int type, QueryOpts* opts);
}
