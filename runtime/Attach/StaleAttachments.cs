using System.Runtime.InteropServices;
using FastRelay.Bpf.Native;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastRelay.Bpf;

/// <summary>A clsact filter at FastRelay's handle and priority range.</summary>
/// <param name="ProgramName">The kernel's (15-character) program name, empty when the program could not be read.</param>
/// <param name="InUse">Whether some process still holds an fd of the program: a live relay, not a leftover.</param>
public sealed record ClsactFilter(int Ifindex, TcDirection Direction, uint Handle, uint Priority, uint ProgramId, string ProgramName, bool InUse)
{
    public bool IsFastRelayProgram => ProgramName.StartsWith(TcAttach.ProgramNamePrefix, StringComparison.Ordinal);
}

/// <summary>
/// Finds and removes clsact filters a killed FastRelay process left behind (TCX links need no cleanup: they die with
/// the process's fd). A filter is removed only when all of these hold: it sits at <see cref="TcAttach.ClsactHandle"/>
/// and a priority in FastRelay's range, its program's name starts with <see cref="TcAttach.ProgramNamePrefix"/>, and
/// no process holds an fd of that program (a running relay keeps its object's program fds open, a killed one does
/// not). Everything else on the device is left alone; the clsact qdisc itself is never removed.
/// </summary>
public static unsafe class StaleAttachments
{
    /// <summary>Every filter at FastRelay's handle and priorities on <paramref name="ifindex"/> (calling thread's
    /// network namespace), ingress and egress.</summary>
    public static IReadOnlyList<ClsactFilter> Find(int ifindex)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ifindex);
        var found = new List<ClsactFilter>();
        using var capture = LibBpfLog.CaptureWarnings(quiet: true);
        foreach (var direction in new[] { TcDirection.Ingress, TcDirection.Egress })
        {
            var hook = BpfTcHook.For(ifindex, TcAttach.AttachPoint(direction));
            for (uint prio = TcAttach.FirstClsactPriority; prio < TcAttach.FirstClsactPriority + TcAttach.ClsactPriorityCount; prio++)
            {
                var opts = new BpfTcOpts { Sz = (nuint)sizeof(BpfTcOpts), Handle = TcAttach.ClsactHandle, Priority = prio };
                int err = LibBpf.bpf_tc_query(&hook, &opts);
                if (err is -LibC.ENOENT) continue;
                if (err is -LibC.EINVAL) break; // no clsact qdisc on this device
                if (err < 0) throw new BpfException($"query clsact filter on ifindex {ifindex} {direction} priority {prio}", -err, capture.Warnings);
                found.Add(new ClsactFilter(ifindex, direction, TcAttach.ClsactHandle, prio, opts.ProgId, ProgramName(opts.ProgId), false));
            }
        }
        if (found.Count == 0) return found;
        var held = ProgramIdsHeldOpen();
        return found.Select(f => f with { InUse = held.Contains(f.ProgramId) }).ToList();
    }

    /// <summary>Removes the stale FastRelay filters on <paramref name="ifindex"/> and returns what was removed.
    /// <paramref name="includeInUse"/> also removes FastRelay filters whose program a live process still holds
    /// (only for an operator who knows no relay runs on the device).</summary>
    public static IReadOnlyList<ClsactFilter> Remove(int ifindex, ILogger? logger = null, bool includeInUse = false)
    {
        logger ??= NullLogger.Instance;
        var removed = new List<ClsactFilter>();
        using var capture = LibBpfLog.CaptureWarnings();
        foreach (var f in Find(ifindex))
        {
            if (!f.IsFastRelayProgram)
            {
                logger.LogWarning("clsact filter 0x{Handle:x}/{Priority} on ifindex {Ifindex} {Direction} runs foreign program '{Program}' (id {Id}); left alone",
                    f.Handle, f.Priority, f.Ifindex, f.Direction, f.ProgramName, f.ProgramId);
                continue;
            }
            if (f.InUse && !includeInUse)
            {
                logger.LogDebug("clsact filter {Priority} on ifindex {Ifindex} {Direction} runs {Program}, held by a live process; left alone",
                    f.Priority, f.Ifindex, f.Direction, f.ProgramName);
                continue;
            }
            var hook = BpfTcHook.For(ifindex, TcAttach.AttachPoint(f.Direction));
            var opts = new BpfTcOpts { Sz = (nuint)sizeof(BpfTcOpts), Handle = f.Handle, Priority = f.Priority };
            int err = LibBpf.bpf_tc_detach(&hook, &opts);
            if (err == -LibC.ENOENT) continue; // raced with another cleanup
            if (err < 0) throw new BpfException($"remove stale clsact filter {f.Priority} on ifindex {ifindex} {f.Direction}", -err, capture.Warnings);
            logger.LogWarning("Removed stale clsact filter {Program} (id {Id}) from ifindex {Ifindex} {Direction} priority {Priority}",
                f.ProgramName, f.ProgramId, f.Ifindex, f.Direction, f.Priority);
            removed.Add(f);
        }
        return removed;
    }

    /// <summary>The kernel name of program <paramref name="id"/>; empty when it vanished meanwhile.</summary>
    internal static string ProgramName(uint id)
    {
        int fd = LibBpf.bpf_prog_get_fd_by_id(id);
        if (fd < 0) return string.Empty;
        try
        {
            BpfProgInfo info = default;
            uint len = (uint)sizeof(BpfProgInfo);
            if (LibBpf.bpf_obj_get_info_by_fd(fd, &info, &len) < 0) return string.Empty;
            return Marshal.PtrToStringUTF8((nint)info.Name) ?? string.Empty;
        }
        finally
        {
            LibC.close(fd);
        }
    }

    /// <summary>Program ids that some process holds an fd of, from /proc/*/fdinfo ("prog_id:" lines). Processes of
    /// other pid namespaces are invisible, so a relay there would look dead: keep one pid namespace per device.</summary>
    internal static HashSet<uint> ProgramIdsHeldOpen()
    {
        var ids = new HashSet<uint>();
        foreach (var proc in SafeEnumerate("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), out _)) continue;
            foreach (var fdinfo in SafeEnumerate(Path.Combine(proc, "fdinfo")))
            {
                try
                {
                    // Only bpf-prog fds have a prog_id line; reading fdinfo is cheap (no file content).
                    foreach (var line in File.ReadLines(fdinfo))
                    {
                        if (line.StartsWith("prog_id:", StringComparison.Ordinal) && uint.TryParse(line.AsSpan(8).Trim(), out uint id))
                            ids.Add(id);
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // fd closed or process exited while reading
                }
            }
        }
        return ids;
    }

    private static IEnumerable<string> SafeEnumerate(string dir)
    {
        try { return Directory.GetFileSystemEntries(dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }
}
