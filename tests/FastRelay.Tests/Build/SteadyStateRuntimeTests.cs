using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using FastRelay.Cli;
using FastRelay.Cli.Scenario;
using FastRelay.Cli.Startup;
using Xunit;

namespace FastRelay.Tests.Build;

/// <summary>
/// The two runtime set-ups of one executable (docs/startup.md, cli/Startup/SteadyStateRuntime.cs): short commands run with
/// tiered compilation on and the whole CLI precompiled; the traffic-carrying ones restart themselves with tiering off and
/// the data path's precompiled code rejected, so a relay's code is what it was before anything was precompiled. These
/// assert the mechanism in real processes (the runtime's own JIT summary, /proc), never a time.
/// </summary>
public sealed class SteadyStateRuntimeTests
{
    /// <summary>The CLI as ./fastrelay runs it: its output directory holds every assembly's ReadyToRun image (the copies
    /// beside the tests are the projects' IL).</summary>
    private static readonly string Dll = Path.Combine(ReadyToRunTests.CliDirectory, "fastrelay.dll");

    /// <summary>The commands that carry traffic for as long as they run, and the bench and demo that measure them.</summary>
    private static readonly string[] SteadyStateCommands =
        ["relay", "publish", "subscribe", "demo", "bench", "quic serve", "moq publish", "moq subscribe", "moq relay"];

    private static IEnumerable<(string Path, Command Command)> All(Command command, string path = "") =>
        command.Subcommands.SelectMany(c =>
        {
            var name = path.Length == 0 ? c.Name : path + " " + c.Name;
            return All(c, name).Prepend((name, c));
        });

    [Fact]
    public void The_traffic_carrying_commands_and_only_they_run_on_the_steady_state_runtime()
    {
        var marked = All(CliRoot.Create()).Where(c => SteadyStateRuntime.IsMarked(c.Command)).Select(c => c.Path).Order().ToList();

        Assert.Equal(SteadyStateCommands.Order(), marked);
    }

    [Fact]
    public void The_restarted_process_gets_tiering_off_and_the_data_path_assemblies_once_with_the_rest_of_the_environment()
    {
        var environment = SteadyStateRuntime.RestartEnvironment().ToList();

        Assert.Single(environment, v => v == "DOTNET_TieredCompilation=0");
        Assert.Single(environment, v => v == "DOTNET_ReadyToRunExcludeList=FastRelay.Runtime;FastRelay.Protocols.CustomUdp;FastRelay.Protocols.Quic;FastRelay.Protocols.Moq");
        Assert.Single(environment, v => v == SteadyStateRuntime.MarkerVariable + "=1");
        Assert.Contains(environment, v => v.StartsWith("PATH=", StringComparison.Ordinal));
        // The names are the assemblies' own: a renamed assembly would silently run its precompiled code in the relays.
        Assert.Equal(SteadyStateRuntime.DataPathAssemblies.Order(), new[]
        {
            typeof(FastRelay.Bpf.BpfException).Assembly, typeof(FastRelay.Protocols.CustomUdp.CustomUdpHeaderFastPath).Assembly,
            typeof(FastRelay.Protocols.Quic.Api.QuicConnection).Assembly, typeof(FastRelay.Protocols.Moq.Relay.MoqRelay).Assembly,
        }.Select(a => a.GetName().Name!).Order());
    }

    /// <summary>`moq relay` restarts itself (same pid) with tiering off: in the restarted runtime nothing is compiled at
    /// tier 0 and the MoQ and QUIC stacks are JIT-compiled fully optimised, not run from their images.</summary>
    [Fact]
    public async Task A_relay_restarts_itself_with_tiering_off_and_jit_compiles_the_data_path()
    {
        var work = Directory.CreateTempSubdirectory("frsu-steady-");
        try
        {
            var summary = Path.Combine(work.FullName, "jit.txt");
            var start = JitSummaryStart(summary, "moq", "relay", "--port", "0", "--mode", "userspace", "--status-dir", work.FullName, "--name", "frsu-steady");
            using var process = Process.Start(start)!;
            var output = new StringBuilder();
            var listening = new TaskCompletionSource();
            process.OutputDataReceived += (_, e) =>
            {
                lock (output) output.AppendLine(e.Data);
                if (e.Data?.StartsWith("listening on moqt://", StringComparison.Ordinal) == true) listening.TrySetResult();
            };
            process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
                var environment = File.ReadAllText($"/proc/{process.Id}/environ").Split('\0');
                Assert.Contains("DOTNET_TieredCompilation=0", environment);
                Assert.Contains(environment, v => v.StartsWith("DOTNET_ReadyToRunExcludeList=", StringComparison.Ordinal) && v.Contains("FastRelay.Protocols.Moq"));
            }
            catch (TimeoutException)
            {
                lock (output) Assert.Fail("moq relay did not listen within 60 s:\n" + output);
            }
            finally
            {
                ProcessSignals.Terminate(process.Id);
                await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
            }

            var restarted = LastProcessLines(summary);
            Assert.True(restarted.Count >= 50, $"the restarted relay JIT-compiled only {restarted.Count} methods: the summary is not working");
            Assert.DoesNotContain(restarted, l => l.Contains("[Tier0", StringComparison.Ordinal) || l.Contains("[Tier1", StringComparison.Ordinal));
            Assert.Contains(restarted, l => l.Contains("JIT compiled FastRelay.Protocols.Moq.", StringComparison.Ordinal) && l.Contains("[FullOpts", StringComparison.Ordinal));
            Assert.Contains(restarted, l => l.Contains("JIT compiled FastRelay.Protocols.Quic.", StringComparison.Ordinal) && l.Contains("[FullOpts", StringComparison.Ordinal));
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>`quic get`, a short command: no restart, tiering on, the QUIC stack run from its image (it JIT-compiles
    /// a small part of the QUIC methods it compiles with precompiled code ignored), and its first packet sent without
    /// the console logger (nothing to log at its quiet level) or the commands it was not asked for being loaded.</summary>
    [Fact]
    public async Task Quic_get_sends_its_first_packet_from_precompiled_code_without_a_restart_or_the_console_logger()
    {
        var precompiled = await FirstPacketAsync(useReadyToRun: true);
        var ilOnly = await FirstPacketAsync(useReadyToRun: false);

        Assert.DoesNotContain(precompiled.Environment, v => v.StartsWith("DOTNET_TieredCompilation=", StringComparison.Ordinal));
        Assert.Contains(precompiled.Jit, l => l.Contains("[Tier0", StringComparison.Ordinal));
        int Quic(List<string> lines) => lines.Count(l => l.Contains("JIT compiled FastRelay.Protocols.Quic.", StringComparison.Ordinal));
        Assert.True(Quic(ilOnly.Jit) >= 100, $"the IL-only run JIT-compiled only {Quic(ilOnly.Jit)} QUIC methods: the summary is not working");
        Assert.True(Quic(precompiled.Jit) * 5 <= Quic(ilOnly.Jit),
            $"{Quic(precompiled.Jit)} of {Quic(ilOnly.Jit)} QUIC methods were JIT-compiled despite ReadyToRun:\n" +
            string.Join("\n", precompiled.Jit.Where(l => l.Contains("JIT compiled FastRelay.Protocols.Quic.", StringComparison.Ordinal))));
        Assert.Contains(precompiled.Mapped, f => f == "FastRelay.Protocols.Quic.dll");
        foreach (var notNeeded in (string[])["Microsoft.Extensions.Logging.Console.dll", "Microsoft.Extensions.DependencyInjection.dll",
                     "FastRelay.Protocols.Moq.dll", "FastRelay.Protocols.CustomUdp.dll"])
            Assert.DoesNotContain(notNeeded, precompiled.Mapped);
    }

    private sealed record FirstPacket(List<string> Jit, string[] Environment, HashSet<string> Mapped);

    /// <summary>Runs `quic get` against a UDP socket standing in for the server; when its first Initial arrives, takes the
    /// process's environment and mapped files, then kills it.</summary>
    private static async Task<FirstPacket> FirstPacketAsync(bool useReadyToRun)
    {
        var work = Directory.CreateTempSubdirectory("frsu-get-");
        using var server = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        server.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)server.LocalEndPoint!).Port;
        try
        {
            var summary = Path.Combine(work.FullName, "jit.txt");
            var start = JitSummaryStart(summary, "quic", "get", "-k", "--handshake-timeout", "60", $"https://127.0.0.1:{port}/x");
            start.Environment["DOTNET_ReadyToRun"] = useReadyToRun ? "1" : "0";
            using var process = Process.Start(start)!;
            string[] environment;
            HashSet<string> mapped;
            try
            {
                await server.ReceiveAsync(new byte[2048]).WaitAsync(TimeSpan.FromSeconds(60));
                environment = File.ReadAllText($"/proc/{process.Id}/environ").Split('\0');
                mapped = File.ReadLines($"/proc/{process.Id}/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                    .Where(f => f.Length >= 6).Select(f => Path.GetFileName(f[^1])).ToHashSet();
            }
            finally
            {
                process.Kill();
                await process.WaitForExitAsync();
            }
            return new FirstPacket(LastProcessLines(summary), environment, mapped);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static ProcessStartInfo JitSummaryStart(string summary, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Dll);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        start.Environment["DOTNET_JitDisasmSummary"] = "1";
        start.Environment["DOTNET_JitStdOutFile"] = summary;
        // The test host's own settings must not leak into the process under test.
        start.Environment.Remove("DOTNET_TieredCompilation");
        start.Environment.Remove("DOTNET_ReadyToRunExcludeList");
        start.Environment.Remove(SteadyStateRuntime.MarkerVariable);
        return start;
    }

    /// <summary>The JIT summary lines of the last runtime that wrote to <paramref name="summary"/>: a restarted process
    /// appends to the file its first image started, and each runtime numbers its methods from 1 ("   1: JIT compiled
    /// ..."; the first image's last line may be cut short, the restarted one's first line then follows on it).</summary>
    private static List<string> LastProcessLines(string summary)
    {
        var text = File.ReadAllText(summary);
        var last = text.LastIndexOf("   1: JIT compiled ", StringComparison.Ordinal);
        Assert.True(last >= 0, "no JIT summary in " + summary);
        return text[last..].Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
    }
}
