using System.Diagnostics;
using FastRelay.Cli.Bench.Native;
using FastRelay.Tests.Lab;
using Xunit;

namespace FastRelay.Tests.Bench;

/// <summary>
/// The bench's syscall counter (syscall_count.bpf.o on raw_syscalls:sys_enter, by tgid) against a process whose
/// syscalls are known: `dd bs=1 count=N` reads and writes one byte at a time, so at least 2N syscalls; a process blocked
/// in a read meanwhile is counted at zero (each counter counts its own process and nobody else).
/// </summary>
public sealed class SyscallCounterTests
{
    /// <summary>Until the process sits in read(2) (syscall 0 in /proc/PID/syscall), with a generous deadline.</summary>
    private static async Task BlockedInReadAsync(int pid)
    {
        var deadline = Stopwatch.StartNew();
        while (!File.ReadAllText($"/proc/{pid}/syscall").StartsWith("0 ", StringComparison.Ordinal))
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException($"process {pid} never blocked in read");
            await Task.Delay(10);
        }
    }

    [LabFact(needsClang: true)]
    public async Task Counts_the_syscalls_of_exactly_one_process()
    {
        var dir = Directory.CreateTempSubdirectory("fastrelay-syscalls-").FullName;
        try
        {
            var objectPath = await BenchTools.BuildSyscallCounterAsync(dir);
            const int bytes = 20_000;

            // `read` holds the shell until the counter is attached; `exec` keeps its PID for dd.
            using var dd = Process.Start(new ProcessStartInfo("sh", ["-c", $"read go; exec dd if=/dev/zero of=/dev/null bs=1 count={bytes} status=none"])
            {
                RedirectStandardInput = true,
            })!;
            using var busy = SyscallCounter.Start(objectPath, dd.Id);
            // A second process that stays blocked in `read` (entered before its counter exists) while dd makes some
            // 40,000 syscalls: its counter must stay at zero, whatever else the machine does meanwhile.
            using var idle = Process.Start(new ProcessStartInfo("sh", ["-c", "read go; exec true"]) { RedirectStandardInput = true })!;
            await BlockedInReadAsync(idle.Id);
            using (var idleCounter = SyscallCounter.Start(objectPath, idle.Id))
            {
                await dd.StandardInput.WriteLineAsync("go");
                await dd.StandardInput.FlushAsync();
                await dd.WaitForExitAsync();
                Assert.InRange(idleCounter.Read(), 0, 2);
            }
            await idle.StandardInput.WriteLineAsync("go");
            await idle.StandardInput.FlushAsync();
            await idle.WaitForExitAsync();
            Assert.Equal(0, dd.ExitCode);
            // 2 per byte plus exec, dynamic loading and exit: a few hundred on top at most.
            Assert.InRange(busy.Read(), 2 * bytes, 2 * bytes + 2_000);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
