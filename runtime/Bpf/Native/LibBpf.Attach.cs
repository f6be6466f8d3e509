using System.Runtime.InteropServices;

namespace FastRelay.Bpf.Native;

// tc (clsact) and bpf_link attach, program lookup by id and map pinning (libbpf 1.1).
internal static unsafe partial class LibBpf
{
    // ---- attach by section name (tracepoints and the like); NULL + errno on failure (libbpf 1.x) ----
    [LibraryImport(Lib, SetLastError = true)] internal static partial nint bpf_program__attach(nint prog);
    [LibraryImport(Lib)] internal static partial int bpf_link__destroy(nint link);

    // ---- clsact / tc ----
    [LibraryImport(Lib)] internal static partial int bpf_tc_hook_create(BpfTcHook* hook);
    [LibraryImport(Lib)] internal static partial int bpf_tc_attach(BpfTcHook* hook, BpfTcOpts* opts);
    [LibraryImport(Lib)] internal static partial int bpf_tc_detach(BpfTcHook* hook, BpfTcOpts* opts);
    [LibraryImport(Lib)] internal static partial int bpf_tc_query(BpfTcHook* hook, BpfTcOpts* opts);

    // ---- links (TCX) ----
    /// <summary>libbpf 1.1 forwards attach types it does not know (BPF_TCX_INGRESS/EGRESS) as long as
    /// <paramref name="opts"/> is null: prog_fd, target_fd (= ifindex for TCX) and attach_type reach the kernel.</summary>
    [LibraryImport(Lib)] internal static partial int bpf_link_create(int progFd, int targetFd, int attachType, void* opts);
    [LibraryImport(Lib)] internal static partial int bpf_link_detach(int linkFd);

    // ---- ids ----
    [LibraryImport(Lib)] internal static partial int bpf_prog_get_fd_by_id(uint id);

    // ---- map pinning ----
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] internal static partial int bpf_map__pin(nint map, string path);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] internal static partial int bpf_map__unpin(nint map, string? path);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] internal static partial int bpf_map__set_pin_path(nint map, string? path);
    [LibraryImport(Lib)] internal static partial nint bpf_map__pin_path(nint map);
    [LibraryImport(Lib)] [return: MarshalAs(UnmanagedType.U1)] internal static partial bool bpf_map__is_pinned(nint map);
}

/// <summary><c>struct bpf_tc_hook</c>, 24 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = 24)]
internal struct BpfTcHook
{
    [FieldOffset(0)] public nuint Sz;
    [FieldOffset(8)] public int Ifindex;
    [FieldOffset(12)] public uint AttachPoint; // BPF_TC_INGRESS = 1, BPF_TC_EGRESS = 2
    [FieldOffset(16)] public uint Parent;

    internal static BpfTcHook For(int ifindex, uint attachPoint) =>
        new() { Sz = 24, Ifindex = ifindex, AttachPoint = attachPoint };
}

/// <summary><c>struct bpf_tc_opts</c>, 32 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
internal struct BpfTcOpts
{
    [FieldOffset(0)] public nuint Sz;
    [FieldOffset(8)] public int ProgFd;
    [FieldOffset(12)] public uint Flags;
    [FieldOffset(16)] public uint ProgId;
    [FieldOffset(20)] public uint Handle;
    [FieldOffset(24)] public uint Priority;
}

/// <summary>The head of <c>struct bpf_link_info</c>: type, id, prog_id, then the per-type union (for TCX: ifindex, attach_type).</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct BpfLinkInfo
{
    [FieldOffset(0)] public uint Type;
    [FieldOffset(4)] public uint Id;
    [FieldOffset(8)] public uint ProgId;
    [FieldOffset(16)] public uint TcxIfindex;
    [FieldOffset(20)] public uint TcxAttachType;
}
