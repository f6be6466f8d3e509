using FastRelay.Bpf;

namespace FastRelay.Cli.Bench.Native;

/// <summary>How often one syscall was made over a window.</summary>
public sealed record SyscallCount(string Name, long Count);

/// <summary>
/// Counts the syscalls of one process (every thread) from the moment it starts until disposed: syscall_count.bpf.o on
/// the raw_syscalls:sys_enter tracepoint, filtered by tgid, a per-CPU counter summed on <see cref="Read"/>. Costs the
/// counted process nothing it would notice (no ptrace, no sampling), unlike strace.
/// </summary>
public sealed class SyscallCounter : IDisposable
{
    private readonly BpfObject _object;
    private readonly BpfLink _link;

    private SyscallCounter(BpfObject obj, BpfLink link)
    {
        _object = obj;
        _link = link;
    }

    /// <param name="objectPath">syscall_count.bpf.o (<see cref="BenchTools.BuildSyscallCounterAsync"/>).</param>
    /// <param name="processId">The process (tgid) to count, in this PID namespace.</param>
    public static SyscallCounter Start(string objectPath, int processId)
    {
        var obj = BpfObject.Load(objectPath);
        try
        {
            obj.Map<uint, uint>("target").Update(0, (uint)processId);
            return new SyscallCounter(obj, obj.Program("count_syscalls").AttachBySection());
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }

    /// <summary>Slots of the per-syscall counters (syscall_count.bpf.c's SYSCALL_SLOTS; the last takes larger numbers).</summary>
    private const int Slots = 512;

    /// <summary>Syscalls entered by the process since <see cref="Start"/>.</summary>
    public long Read() => ReadBySyscall().Values.Sum();

    /// <summary>Syscalls entered since <see cref="Start"/>, by syscall number (only those made at least once).</summary>
    public Dictionary<int, long> ReadBySyscall()
    {
        var counts = new Dictionary<int, long>();
        var map = _object.Map("syscalls");
        for (var id = 0u; id < Slots; id++)
        {
            long n = 0;
            foreach (var perCpu in map.LookupPerCpu<uint, ulong>(id))
                n += (long)perCpu;
            if (n > 0) counts[(int)id] = n;
        }
        return counts;
    }

    /// <summary>Differences between two <see cref="ReadBySyscall"/> readings, largest first, as "name count".</summary>
    public static IReadOnlyList<SyscallCount> Difference(Dictionary<int, long> before, Dictionary<int, long> after) =>
        after.Select(kv => new SyscallCount(X64SyscallNames.NameOf(kv.Key), kv.Value - before.GetValueOrDefault(kv.Key)))
            .Where(c => c.Count > 0).OrderByDescending(c => c.Count).ToList();

    public void Dispose()
    {
        _link.Dispose();
        _object.Dispose();
    }
}
