using System.Diagnostics;
using FastRelay.Cli.Bench.Native;
using FastRelay.Tests.Lab;
using Xunit;

namespace FastRelay.Tests.Bench;

/// <summary>
/// The bench's syscall counter (syscall_count.bpf.o on raw_syscalls:sys_enter, by tgid) against a process whose
/// syscalls are known: `dd bs=1 count=N` reads and writes one byte at a time, so at least 2N syscalls; a process that
/// only waits makes a handful; and the counter counts nobody else (this test process is busy meanwhile).
/// </summary>
public sealed class SyscallCounterTests
{
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
            using (var idle = Process.Start(new ProcessStartInfo("sleep", ["1"]))!)
            using (var idleCounter = SyscallCounter.Start(objectPath, idle.Id))
            {
                await dd.StandardInput.WriteLineAsync("go");
                await dd.StandardInput.FlushAsync();
                await dd.WaitForExitAsync();
                await idle.WaitForExitAsync();
                // sleep made its few start-up syscalls before the counter was attached, then one nanosleep and exit.
                Assert.InRange(idleCounter.Read(), 0, 50);
            }
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
