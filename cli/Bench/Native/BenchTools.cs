using System.Text;
using CliWrap;
using FastRelay.Cli.Gen;

namespace FastRelay.Cli.Bench.Native;

/// <summary>Paths of the native bench tools built by <see cref="BenchTools.BuildAsync(string, CancellationToken)"/>.</summary>
/// <param name="Send">fr_bench_send: paced DATA sender (optionally a publisher with handshake).</param>
/// <param name="Receive">fr_bench_recv: busy-polling measuring receiver (optionally a subscriber with handshake).</param>
/// <param name="Relay">fr_bench_relay: the reference recvmmsg/sendmmsg fan-out relay.</param>
/// <param name="CloneFloorObject">clone_floor.bpf.o: the TC fan-out floor, for <see cref="CloneFloor"/>.</param>
public sealed record BenchToolPaths(string Send, string Receive, string Relay, string CloneFloorObject);

/// <summary>
/// Compiles the native pieces of `fastrelay bench` at run time: the three C tools (cli/Bench/native/*.c, C11, libc only,
/// <c>cc -O2 -Wall -o &lt;out&gt; &lt;file&gt;.c</c>) and bpf-templates/bench/clone_floor.bpf.c (clang, BPF target). The
/// sources travel with the CLI (copied to its output directory, see FastRelay.Cli.csproj), so this works from the
/// output directory alone. An output newer than its source is reused.
/// </summary>
public static class BenchTools
{
    public const string SendTool = "fr_bench_send";
    public const string ReceiveTool = "fr_bench_recv";
    public const string RelayTool = "fr_bench_relay";
    public const string CloneFloorSource = "clone_floor.bpf.c";
    public const string SyscallCountSource = "syscall_count.bpf.c";

    /// <summary>Where the C sources are next to the CLI (cli/Bench/native in the repository).</summary>
    public static string DefaultNativeSourceDir => Path.Combine(AppContext.BaseDirectory, "Bench", "native");

    /// <summary>Where clone_floor.bpf.c is next to the CLI (bpf-templates/bench in the repository).</summary>
    public static string DefaultBpfSourceDir => Path.Combine(GenPipeline.DefaultTemplatesDir, "bench");

    /// <summary>Builds everything from the sources next to the CLI into <paramref name="outDir"/> (created if needed).</summary>
    public static Task<BenchToolPaths> BuildAsync(string outDir, CancellationToken cancellationToken = default) =>
        BuildAsync(outDir, DefaultNativeSourceDir, DefaultBpfSourceDir, cancellationToken);

    /// <summary>Builds from explicit source directories (tests use the repository's own).</summary>
    /// <exception cref="UserFacingException">No C compiler or no clang, a missing source, or a compile error (with the
    /// compiler's output).</exception>
    public static async Task<BenchToolPaths> BuildAsync(string outDir, string nativeSourceDir, string bpfSourceDir, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(outDir);
        var cc = FindCCompiler();
        var tools = await Task.WhenAll(new[] { SendTool, ReceiveTool, RelayTool }
            .Select(tool => CompileToolAsync(cc, Path.Combine(nativeSourceDir, tool + ".c"), Path.Combine(outDir, tool), cancellationToken)));
        var bpf = await CompileBpfAsync(Path.Combine(bpfSourceDir, CloneFloorSource), Path.Combine(outDir, "clone_floor.bpf.o"), cancellationToken);
        return new BenchToolPaths(tools[0], tools[1], tools[2], bpf);
    }

    /// <summary>syscall_count.bpf.o (for <see cref="SyscallCounter"/>) from the source next to the CLI, into <paramref name="outDir"/>.</summary>
    public static Task<string> BuildSyscallCounterAsync(string outDir, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(outDir);
        return CompileBpfAsync(Path.Combine(DefaultBpfSourceDir, SyscallCountSource), Path.Combine(outDir, "syscall_count.bpf.o"), cancellationToken);
    }

    /// <summary>clone_floor.bpf.o (for <see cref="CloneFloor"/>) alone, from the source next to the CLI, into <paramref name="outDir"/>:
    /// the MoQ bench's floor needs no C tools.</summary>
    public static Task<string> BuildCloneFloorAsync(string outDir, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(outDir);
        return CompileBpfAsync(Path.Combine(DefaultBpfSourceDir, CloneFloorSource), Path.Combine(outDir, "clone_floor.bpf.o"), cancellationToken);
    }

    /// <summary>The C compiler: $FASTRELAY_CC, else cc, gcc or clang on PATH.</summary>
    public static string FindCCompiler()
    {
        var explicitCc = Environment.GetEnvironmentVariable("FASTRELAY_CC");
        if (!string.IsNullOrEmpty(explicitCc))
            return File.Exists(explicitCc) ? explicitCc : FindOnPath(explicitCc)
                ?? throw new UserFacingException($"FASTRELAY_CC={explicitCc} does not exist");
        return new[] { "cc", "gcc", "clang" }.Select(FindOnPath).FirstOrDefault(p => p is not null)
            ?? throw new UserFacingException("no C compiler found (cc, gcc or clang on PATH): install one (apt-get install gcc) or set FASTRELAY_CC");
    }

    private static async Task<string> CompileToolAsync(string cc, string source, string output, CancellationToken cancellationToken)
    {
        if (!File.Exists(source))
            throw new UserFacingException($"bench tool source not found: {source}");
        if (IsUpToDate(source, output))
            return output;
        var temporary = output + ".tmp" + Environment.ProcessId;
        await RunAsync(cc, ["-O2", "-Wall", "-o", temporary, source], $"compiling {Path.GetFileName(source)}", cancellationToken);
        File.Move(temporary, output, overwrite: true);
        return output;
    }

    private static async Task<string> CompileBpfAsync(string source, string output, CancellationToken cancellationToken)
    {
        if (!File.Exists(source))
            throw new UserFacingException($"bench BPF source not found: {source}");
        if (IsUpToDate(source, output))
            return output;
        var clang = await ClangToolchain.FindAsync(null, cancellationToken);
        var temporary = output + ".tmp" + Environment.ProcessId;
        try
        {
            await clang.CompileBpfAsync(source, temporary, [], [], cancellationToken);
        }
        catch (ClangFailedException e)
        {
            throw new UserFacingException($"compiling {source} failed:\n{e.Diagnostics}", e);
        }
        File.Move(temporary, output, overwrite: true);
        return output;
    }

    private static bool IsUpToDate(string source, string output) =>
        File.Exists(output) && File.GetLastWriteTimeUtc(output) >= File.GetLastWriteTimeUtc(source);

    private static async Task RunAsync(string program, IReadOnlyList<string> args, string what, CancellationToken cancellationToken)
    {
        var output = new StringBuilder();
        var result = await CliWrap.Cli.Wrap(program).WithArguments(args)
            .WithStandardOutputPipe(PipeTarget.ToStringBuilder(output))
            .WithStandardErrorPipe(PipeTarget.ToStringBuilder(output))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(cancellationToken);
        if (result.ExitCode != 0)
            throw new UserFacingException($"{what} with {program} failed (exit {result.ExitCode}):\n{output}");
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => Path.Combine(dir, name))
        .FirstOrDefault(File.Exists);
}
