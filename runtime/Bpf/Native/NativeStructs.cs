using System.Runtime.InteropServices;

namespace FastRelay.Bpf.Native;

// Layouts checked with offsetof() against /usr/include/bpf/libbpf.h, bpf.h and linux/bpf.h (libbpf 1.1, x86-64).
// libbpf's opts structs are versioned by their `sz` field: passing the 1.1 size keeps newer libbpfs compatible.

/// <summary><c>struct bpf_object_open_opts</c>, 80 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = 80)]
internal unsafe struct BpfObjectOpenOpts
{
    [FieldOffset(0)] public nuint Sz;
    [FieldOffset(8)] public byte* ObjectName;
    [FieldOffset(16)] public byte RelaxedMaps;
    [FieldOffset(24)] public byte* PinRootPath;
    [FieldOffset(40)] public byte* Kconfig;
    [FieldOffset(48)] public byte* BtfCustomPath;
    [FieldOffset(56)] public byte* KernelLogBuf;
    [FieldOffset(64)] public nuint KernelLogSize;
    [FieldOffset(72)] public uint KernelLogLevel;
}

/// <summary><c>struct bpf_test_run_opts</c>, 80 bytes.</summary>
[StructLayout(LayoutKind.Explicit, Size = 80)]
internal unsafe struct BpfTestRunOpts
{
    [FieldOffset(0)] public nuint Sz;
    [FieldOffset(8)] public void* DataIn;
    [FieldOffset(16)] public void* DataOut;
    [FieldOffset(24)] public uint DataSizeIn;
    [FieldOffset(28)] public uint DataSizeOut;
    [FieldOffset(32)] public void* CtxIn;
    [FieldOffset(40)] public void* CtxOut;
    [FieldOffset(48)] public uint CtxSizeIn;
    [FieldOffset(52)] public uint CtxSizeOut;
    [FieldOffset(56)] public uint Retval;
    [FieldOffset(60)] public int Repeat;
    [FieldOffset(64)] public uint Duration;
    [FieldOffset(68)] public uint Flags;
    [FieldOffset(72)] public uint Cpu;
    [FieldOffset(76)] public uint BatchSize;
}

/// <summary><c>struct __sk_buff</c>, 192 bytes; only the members BPF_PROG_TEST_RUN accepts in ctx_in are named.</summary>
[StructLayout(LayoutKind.Explicit, Size = 192)]
internal unsafe struct SkBuff
{
    [FieldOffset(0)] public uint Len;
    [FieldOffset(8)] public uint Mark;
    [FieldOffset(32)] public uint Priority;
    [FieldOffset(36)] public uint IngressIfindex;
    [FieldOffset(40)] public uint Ifindex;
    [FieldOffset(48)] public fixed uint Cb[5];
    [FieldOffset(152)] public ulong Tstamp;
    [FieldOffset(160)] public uint WireLen;
    [FieldOffset(164)] public uint GsoSegs;
    [FieldOffset(176)] public uint GsoSize;
}

/// <summary>The head of <c>struct bpf_prog_info</c> (232 bytes in 6.1 headers). The kernel accepts a shorter
/// user struct, so newer kernels with a longer one are fine.</summary>
[StructLayout(LayoutKind.Explicit, Size = 232)]
internal unsafe struct BpfProgInfo
{
    [FieldOffset(0)] public uint Type;
    [FieldOffset(4)] public uint Id;
    [FieldOffset(8)] public fixed byte Tag[8];
    [FieldOffset(16)] public uint JitedProgLen;
    [FieldOffset(20)] public uint XlatedProgLen;
    [FieldOffset(64)] public fixed byte Name[16];
    [FieldOffset(192)] public ulong RunTimeNs;
    [FieldOffset(200)] public ulong RunCnt;
    [FieldOffset(216)] public uint VerifiedInsns;
}

/// <summary><c>struct btf_type</c> (12 bytes); a struct's <c>btf_member</c>s follow it directly.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BtfType
{
    public uint NameOff;
    public uint Info;   // bits 0-15 vlen, 24-28 kind, 31 kind_flag
    public uint SizeOrType;

    public readonly int Vlen => (int)(Info & 0xffff);
    public readonly int Kind => (int)((Info >> 24) & 0x1f);
    public readonly bool KindFlag => (Info >> 31) != 0;
}

/// <summary><c>struct btf_member</c> (12 bytes). <c>Offset</c> is in bits; with kind_flag its top 8 bits are the bitfield size.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BtfMemberRaw
{
    public uint NameOff;
    public uint Type;
    public uint Offset;
}
