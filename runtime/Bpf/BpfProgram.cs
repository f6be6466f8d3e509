using FastRelay.Bpf.Native;

namespace FastRelay.Bpf;

/// <summary>One program of a <see cref="BpfObject"/>. Valid while the object is; the fd belongs to the object.</summary>
public sealed unsafe partial class BpfProgram
{
    private readonly BpfObject _owner;
    internal nint Ptr { get; }

    internal BpfProgram(BpfObject owner, nint ptr)
    {
        _owner = owner;
        Ptr = ptr;
        Name = LibBpf.Str(LibBpf.bpf_program__name(ptr));
        SectionName = LibBpf.Str(LibBpf.bpf_program__section_name(ptr));
    }

    public string Name { get; }
    public string SectionName { get; }
    public BpfObject Object => _owner;

    public BpfProgramType Type
    {
        get { using var _ = new Lease(_owner.Handle); return (BpfProgramType)LibBpf.bpf_program__type(Ptr); }
    }

    /// <summary>Whether <see cref="BpfObject.Load"/> loads this program; settable only before the load.</summary>
    public bool Autoload
    {
        get { using var _ = new Lease(_owner.Handle); return LibBpf.bpf_program__autoload(Ptr); }
        set { using var _ = new Lease(_owner.Handle); BpfError.Check(LibBpf.bpf_program__set_autoload(Ptr, value), $"set autoload of {Name}"); }
    }

    public bool IsLoaded
    {
        get { using var _ = new Lease(_owner.Handle); return LibBpf.bpf_program__fd(Ptr) >= 0; }
    }

    /// <summary>The kernel program fd, owned by the object (do not close it; see <see cref="DuplicateFd"/>).</summary>
    public int Fd
    {
        get
        {
            using var _ = new Lease(_owner.Handle);
            int fd = LibBpf.bpf_program__fd(Ptr);
            return fd >= 0 ? fd : throw new InvalidOperationException($"BPF program '{Name}' is not loaded");
        }
    }

    /// <summary>Verifier output captured at load: always for a rejected program, for accepted ones only with
    /// <see cref="BpfObjectOptions.VerifierLogLevel"/> &gt; 0.</summary>
    public string? VerifierLog { get; internal set; }

    /// <summary>Attaches the loaded program where its section name says (a tracepoint, a kprobe); dispose the link to
    /// detach. Not for TC programs (see TcAttach).</summary>
    public BpfLink AttachBySection()
    {
        using var _ = new Lease(_owner.Handle);
        return BpfLink.Attach(this);
    }

    /// <summary>An fd of this program that the caller owns; it keeps the kernel program alive after the object is disposed.</summary>
    public BpfFdHandle DuplicateFd()
    {
        using var _ = new Lease(_owner.Handle);
        int fd = LibC.fcntl(Fd, LibC.F_DUPFD_CLOEXEC, 3);
        if (fd < 0) throw new BpfException($"duplicate fd of {Name}", System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
        return new BpfFdHandle(fd);
    }

    /// <summary>Kernel facts about the loaded program (bpf_obj_get_info_by_fd).</summary>
    public BpfProgramInfo GetInfo()
    {
        using var _ = new Lease(_owner.Handle);
        BpfProgInfo info = default;
        uint len = (uint)sizeof(BpfProgInfo);
        BpfError.Check(LibBpf.bpf_obj_get_info_by_fd(Fd, &info, &len), $"get info of {Name}");
        return new BpfProgramInfo(
            info.Id,
            Convert.ToHexStringLower(new ReadOnlySpan<byte>(info.Tag, 8)),
            (BpfProgramType)info.Type,
            (int)(info.XlatedProgLen / 8), // bpf_insn is 8 bytes
            (int)info.JitedProgLen,
            // verified_insns arrived in 5.16; a shorter kernel struct leaves it 0
            len >= 220 ? (int)info.VerifiedInsns : null,
            info.RunCnt,
            TimeSpan.FromTicks((long)(info.RunTimeNs / 100)));
    }

    public override string ToString() => $"{Name} ({SectionName})";
}

/// <param name="Instructions">Instructions after verifier rewrites (xlated_prog_len / 8).</param>
/// <param name="VerifiedInstructions">Instructions the verifier processed (all paths), when the kernel reports it.</param>
/// <param name="RunCount">Runs counted while kernel.bpf_stats_enabled is on.</param>
public sealed record BpfProgramInfo(
    uint Id, string Tag, BpfProgramType Type, int Instructions, int JitedBytes, int? VerifiedInstructions,
    ulong RunCount, TimeSpan RunTime);
