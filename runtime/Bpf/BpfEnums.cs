namespace FastRelay.Bpf;

/// <summary>Kernel <c>enum bpf_map_type</c> (linux/bpf.h).</summary>
public enum BpfMapType
{
    Unspec, Hash, Array, ProgArray, PerfEventArray, PercpuHash, PercpuArray, StackTrace, CgroupArray, LruHash,
    LruPercpuHash, LpmTrie, ArrayOfMaps, HashOfMaps, Devmap, Sockmap, Cpumap, Xskmap, Sockhash, CgroupStorage,
    ReuseportSockarray, PercpuCgroupStorage, Queue, Stack, SkStorage, DevmapHash, StructOps, Ringbuf,
    InodeStorage, TaskStorage, BloomFilter, UserRingbuf, CgrpStorage,
}

/// <summary>Kernel <c>enum bpf_prog_type</c> (linux/bpf.h).</summary>
public enum BpfProgramType
{
    Unspec, SocketFilter, Kprobe, SchedCls, SchedAct, Tracepoint, Xdp, PerfEvent, CgroupSkb, CgroupSock, LwtIn,
    LwtOut, LwtXmit, SockOps, SkSkb, CgroupDevice, SkMsg, RawTracepoint, CgroupSockAddr, LwtSeg6local, LircMode2,
    SkReuseport, FlowDissector, CgroupSysctl, RawTracepointWritable, CgroupSockopt, Tracing, StructOps, Ext, Lsm,
    SkLookup, Syscall, Netfilter,
}

/// <summary>Flags of BPF_MAP_UPDATE_ELEM.</summary>
public enum BpfUpdateFlags : ulong
{
    /// <summary>Create or replace.</summary>
    Any = 0,
    /// <summary>Create only; fails with EEXIST.</summary>
    NoExist = 1,
    /// <summary>Replace only; fails with ENOENT.</summary>
    Exist = 2,
    /// <summary>Update under the value's bpf_spin_lock.</summary>
    Lock = 4,
}
