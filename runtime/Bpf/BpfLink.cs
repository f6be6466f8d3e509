using System.Runtime.InteropServices;
using FastRelay.Bpf.Native;

namespace FastRelay.Bpf;

/// <summary>
/// A program attached where its section name says (<c>tp/...</c>, <c>raw_tp/...</c>, <c>kprobe/...</c>) through
/// libbpf's <c>bpf_program__attach</c>: detached when disposed (or when the process exits: the link is not pinned).
/// TC programs are attached by <c>TcAttach</c> instead, which knows devices and directions.
/// </summary>
public sealed class BpfLink : SafeHandle
{
    private BpfLink(nint link) : base(0, ownsHandle: true) => SetHandle(link);

    public override bool IsInvalid => handle == 0;

    internal static BpfLink Attach(BpfProgram program)
    {
        var link = LibBpf.bpf_program__attach(program.Ptr);
        if (link == 0)
            throw new BpfException($"attach {program.Name} ({program.SectionName})", Marshal.GetLastPInvokeError());
        return new BpfLink(link);
    }

    protected override bool ReleaseHandle()
    {
        LibBpf.bpf_link__destroy(handle);
        return true;
    }
}
