using FastRelay.Bpf.Native;
using FastRelay.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastRelay.Bpf;

/// <summary>Which TC hook of a device a program runs on.</summary>
public enum TcDirection { Ingress, Egress }

/// <summary>How a program is attached to a TC hook.</summary>
public enum TcAttachMode
{
    /// <summary>TCX when the kernel has it (6.6+), clsact otherwise.</summary>
    Auto,
    /// <summary>A TCX bpf_link (BPF_TCX_INGRESS/EGRESS): owned by this process's fd, gone when the process exits.</summary>
    Tcx,
    /// <summary>A direct-action cls_bpf filter on the clsact qdisc at FastRelay's handle and priority range; it
    /// outlives the process (see <see cref="StaleAttachments"/>).</summary>
    Clsact,
}

/// <summary>
/// Attaches TC programs (BPF_PROG_TYPE_SCHED_CLS) to a device's ingress or egress hook in the calling thread's
/// network namespace (use <see cref="NetworkNamespace.Run{T}"/> for another one).
/// <para>Several programs may share a hook: TCX runs them in attach order; clsact filters get consecutive
/// priorities from <see cref="FirstClsactPriority"/> (lower runs first). FastRelay programs return TC_ACT_UNSPEC
/// for packets that are not theirs, so the next program and the stack still see them.</para>
/// <para>The clsact qdisc is created when missing and never destroyed: destroying it would remove every other
/// filter on the device.</para>
/// </summary>
public static unsafe class TcAttach
{
    /// <summary>The cls_bpf filter handle of every FastRelay clsact filter ("FAST").</summary>
    public const uint ClsactHandle = 0xFA57;
    /// <summary>First of the <see cref="ClsactPriorityCount"/> filter priorities FastRelay uses on a clsact hook.
    /// tc's automatic priorities start at 49152 and go down, so foreign filters usually run before ours.</summary>
    public const ushort FirstClsactPriority = 0xFA00;
    public const int ClsactPriorityCount = 32;
    /// <summary>Program names FastRelay owns; stale cleanup removes only filters running such a program.</summary>
    public const string ProgramNamePrefix = "fr_";

    internal const int BPF_TCX_INGRESS = 46, BPF_TCX_EGRESS = 47;
    internal const uint BPF_TC_INGRESS = 1, BPF_TC_EGRESS = 2;

    // Set once a TCX attempt proved the kernel lacks it, so Auto stops trying.
    private static volatile bool s_tcxUnsupported;

    internal static uint AttachPoint(TcDirection d) => d == TcDirection.Ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS;

    internal static bool IsFastRelayPriority(uint priority) =>
        priority >= FirstClsactPriority && priority < FirstClsactPriority + ClsactPriorityCount;

    /// <summary>Attaches <paramref name="program"/> to the hook of the device named <paramref name="device"/>.</summary>
    public static TcAttachment Attach(BpfProgram program, string device, TcDirection direction,
        TcAttachMode mode = TcAttachMode.Auto, ILogger? logger = null) =>
        Attach(program, NetDevice.IndexOf(device), direction, mode, logger);

    /// <summary>
    /// Attaches a loaded TC program to <paramref name="ifindex"/>'s hook. The result detaches exactly this
    /// attachment on <see cref="TcAttachment.Dispose"/>; it is not detached by the garbage collector, so keep it
    /// for as long as the program should run.
    /// </summary>
    /// <exception cref="BpfException">The kernel refused (errno and libbpf's reason in the message).</exception>
    public static TcAttachment Attach(BpfProgram program, int ifindex, TcDirection direction,
        TcAttachMode mode = TcAttachMode.Auto, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(program);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ifindex);
        logger ??= NullLogger.Instance;
        if (program.Type != BpfProgramType.SchedCls)
            throw new ArgumentException($"BPF program '{program.Name}' is {program.Type}, TC attach needs SchedCls (SEC(\"tc\"))", nameof(program));
        if (!program.Name.StartsWith(ProgramNamePrefix, StringComparison.Ordinal))
            logger.LogDebug("Program {Program} lacks the '{Prefix}' prefix: stale cleanup will not recognise it", program.Name, ProgramNamePrefix);

        uint progId = program.GetInfo().Id;
        if (mode == TcAttachMode.Tcx || (mode == TcAttachMode.Auto && !s_tcxUnsupported))
        {
            int link = LinkCreate(program, ifindex, direction, out int errno);
            if (link >= 0)
            {
                var a = TcAttachment.ForTcx(program.Name, progId, ifindex, direction, link, logger);
                logger.LogInformation("Attached {Program} to ifindex {Ifindex} {Direction} via TCX link {LinkId}",
                    program.Name, ifindex, direction, a.LinkId);
                return a;
            }
            // An unknown attach type is EINVAL on kernels before 6.6.
            bool unsupported = errno is LibC.EINVAL or LibC.EOPNOTSUPP;
            if (mode == TcAttachMode.Tcx || !unsupported)
                throw new BpfException($"TCX attach of {program.Name} to ifindex {ifindex} {direction}", errno);
            s_tcxUnsupported = true;
            logger.LogInformation("TCX unavailable ({Error}); falling back to clsact", BpfError.Describe(errno));
        }
        return AttachClsact(program, progId, ifindex, direction, logger);
    }

    private static int LinkCreate(BpfProgram program, int ifindex, TcDirection direction, out int errno)
    {
        using var capture = LibBpfLog.CaptureWarnings();
        int fd = LibBpf.bpf_link_create(program.Fd, ifindex, direction == TcDirection.Ingress ? BPF_TCX_INGRESS : BPF_TCX_EGRESS, null);
        errno = fd < 0 ? -fd : 0;
        return fd;
    }

    private static TcAttachment AttachClsact(BpfProgram program, uint progId, int ifindex, TcDirection direction, ILogger logger)
    {
        using var capture = LibBpfLog.CaptureWarnings();
        var hook = BpfTcHook.For(ifindex, AttachPoint(direction));
        int err = LibBpf.bpf_tc_hook_create(&hook);
        if (err < 0 && err != -LibC.EEXIST)
            throw new BpfException($"create clsact qdisc on ifindex {ifindex}", -err, capture.Warnings);

        int progFd = program.Fd;
        var netns = NetworkNamespace.Current(); // where Dispose must detach, whichever thread runs it
        try
        {
            for (uint prio = FirstClsactPriority; prio < FirstClsactPriority + ClsactPriorityCount; prio++)
            {
                var opts = new BpfTcOpts { Sz = (nuint)sizeof(BpfTcOpts), ProgFd = progFd, Handle = ClsactHandle, Priority = prio };
                err = LibBpf.bpf_tc_attach(&hook, &opts);
                if (err == -LibC.EEXIST) continue; // another FastRelay program (live or stale) holds this priority
                if (err < 0)
                    throw new BpfException($"clsact attach of {program.Name} to ifindex {ifindex} {direction} (handle 0x{ClsactHandle:x}, priority {prio})",
                        -err, capture.Warnings);
                var a = TcAttachment.ForClsact(program.Name, opts.ProgId != 0 ? opts.ProgId : progId, ifindex, direction, prio, netns, logger);
                logger.LogInformation("Attached {Program} to ifindex {Ifindex} {Direction} via clsact filter handle 0x{Handle:x} priority {Priority}",
                    program.Name, ifindex, direction, ClsactHandle, prio);
                return a;
            }
        }
        catch
        {
            netns.Dispose();
            throw;
        }
        netns.Dispose();
        throw new BpfException(
            $"clsact attach of {program.Name} to ifindex {ifindex} {direction}: all {ClsactPriorityCount} FastRelay priorities " +
            $"({FirstClsactPriority}..{FirstClsactPriority + ClsactPriorityCount - 1}) are taken; StaleAttachments.Remove clears leftovers of killed processes",
            LibC.EEXIST, capture.Warnings);
    }
}
