using FastRelay.Bpf.Native;
using FastRelay.Net;
using Microsoft.Extensions.Logging;

namespace FastRelay.Bpf;

/// <summary>
/// One program attached to one TC hook by <see cref="TcAttach"/>. <see cref="Dispose"/> detaches exactly this
/// attachment (a TCX link, or the clsact filter at its handle/priority if it still runs the same program), is
/// idempotent, never throws, and may run on any thread (e.g. a Ctrl-C handler): clsact filters are removed from the
/// network namespace they were attached in.
/// </summary>
public sealed unsafe class TcAttachment : IDisposable
{
    private readonly ILogger _logger;
    private readonly NetworkNamespace? _netns; // clsact only: where to detach
    private int _linkFd = -1;                  // TCX only
    private int _detached;

    private TcAttachment(string programName, uint programId, int ifindex, TcDirection direction, TcAttachMode mode, ILogger logger,
        NetworkNamespace? netns)
    {
        ProgramName = programName;
        ProgramId = programId;
        Ifindex = ifindex;
        Direction = direction;
        Mode = mode;
        _logger = logger;
        _netns = netns;
    }

    internal static TcAttachment ForTcx(string name, uint progId, int ifindex, TcDirection direction, int linkFd, ILogger logger)
    {
        var a = new TcAttachment(name, progId, ifindex, direction, TcAttachMode.Tcx, logger, null) { _linkFd = linkFd };
        BpfLinkInfo info = default;
        uint len = (uint)sizeof(BpfLinkInfo);
        if (LibBpf.bpf_obj_get_info_by_fd(linkFd, &info, &len) == 0) a.LinkId = info.Id;
        return a;
    }

    internal static TcAttachment ForClsact(string name, uint progId, int ifindex, TcDirection direction, uint priority,
        NetworkNamespace netns, ILogger logger) =>
        new(name, progId, ifindex, direction, TcAttachMode.Clsact, logger, netns) { ClsactPriority = priority };

    public string ProgramName { get; }
    /// <summary>The kernel id of the attached program.</summary>
    public uint ProgramId { get; }
    public int Ifindex { get; }
    public TcDirection Direction { get; }
    /// <summary>The mode actually used: <see cref="TcAttachMode.Tcx"/> or <see cref="TcAttachMode.Clsact"/>.</summary>
    public TcAttachMode Mode { get; }
    /// <summary>TCX: the kernel link id.</summary>
    public uint? LinkId { get; private set; }
    /// <summary>Clsact: <see cref="TcAttach.ClsactHandle"/>.</summary>
    public uint? ClsactHandle => Mode == TcAttachMode.Clsact ? TcAttach.ClsactHandle : null;
    /// <summary>Clsact: the filter priority this attachment took.</summary>
    public uint? ClsactPriority { get; private set; }
    /// <summary>The namespace identity a clsact filter was attached in.</summary>
    public string? NetworkNamespaceIdentity => _netns?.Identity;

    public bool IsAttached => Volatile.Read(ref _detached) == 0;

    /// <summary>Detaches now and throws <see cref="BpfException"/> when the kernel refuses. A filter already gone
    /// (device deleted, removed by someone else) is not an error. Later calls do nothing.</summary>
    public void Detach()
    {
        if (Interlocked.Exchange(ref _detached, 1) != 0) return;
        if (Mode == TcAttachMode.Tcx) DetachTcx();
        else
        {
            try { _netns!.Run(DetachClsact); }
            finally { _netns!.Dispose(); }
        }
    }

    /// <summary><see cref="Detach"/>, logging failures instead of throwing.</summary>
    public void Dispose()
    {
        try
        {
            Detach();
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Detaching {Program} from ifindex {Ifindex} {Direction} failed", ProgramName, Ifindex, Direction);
        }
    }

    private void DetachTcx()
    {
        int fd = _linkFd;
        _linkFd = -1;
        // bpf_link_detach ends the link even if another fd to it exists; closing then frees our fd.
        int err = LibBpf.bpf_link_detach(fd);
        LibC.close(fd);
        if (err < 0 && err != -LibC.ENOLINK && err != -LibC.ENODEV)
            throw new BpfException($"detach TCX link {LinkId} of {ProgramName}", -err);
        _logger.LogInformation("Detached {Program} from ifindex {Ifindex} {Direction} (TCX link {LinkId})", ProgramName, Ifindex, Direction, LinkId);
    }

    private void DetachClsact()
    {
        using var capture = LibBpfLog.CaptureWarnings();
        var hook = BpfTcHook.For(Ifindex, TcAttach.AttachPoint(Direction));
        var query = new BpfTcOpts { Sz = (nuint)sizeof(BpfTcOpts), Handle = TcAttach.ClsactHandle, Priority = ClsactPriority!.Value };
        int err = LibBpf.bpf_tc_query(&hook, &query);
        if (err is -LibC.ENOENT or -LibC.EINVAL or -LibC.ENODEV)
        {
            _logger.LogInformation("{Program}'s clsact filter on ifindex {Ifindex} {Direction} priority {Priority} is already gone",
                ProgramName, Ifindex, Direction, ClsactPriority);
            return;
        }
        if (err < 0) throw new BpfException($"query clsact filter of {ProgramName} on ifindex {Ifindex}", -err, capture.Warnings);
        if (query.ProgId != ProgramId)
        {
            _logger.LogWarning("clsact filter on ifindex {Ifindex} {Direction} priority {Priority} now runs program id {Found}, not {Program} ({Id}); left alone",
                Ifindex, Direction, ClsactPriority, query.ProgId, ProgramName, ProgramId);
            return;
        }
        var opts = new BpfTcOpts { Sz = (nuint)sizeof(BpfTcOpts), Handle = TcAttach.ClsactHandle, Priority = ClsactPriority!.Value };
        err = LibBpf.bpf_tc_detach(&hook, &opts);
        if (err < 0 && err != -LibC.ENOENT)
            throw new BpfException($"detach clsact filter of {ProgramName} on ifindex {Ifindex} priority {ClsactPriority}", -err, capture.Warnings);
        _logger.LogInformation("Detached {Program} from ifindex {Ifindex} {Direction} (clsact priority {Priority})", ProgramName, Ifindex, Direction, ClsactPriority);
    }

    public override string ToString() => Mode == TcAttachMode.Tcx
        ? $"{ProgramName} on ifindex {Ifindex} {Direction} (TCX link {LinkId})"
        : $"{ProgramName} on ifindex {Ifindex} {Direction} (clsact 0x{TcAttach.ClsactHandle:x}/{ClsactPriority})";
}
