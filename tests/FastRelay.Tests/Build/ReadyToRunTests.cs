using System.Diagnostics;
using System.Reflection.PortableExecutable;
using System.Text.Json;
using FastRelay.Cli.Commands;
using FastRelay.Tests.Infrastructure;
using Xunit;

namespace FastRelay.Tests.Build;

/// <summary>The CLI's fast start (docs/startup.md) rests on its build output being ReadyToRun-compiled and on the runtime
/// running that precompiled code. Start-up time itself is not asserted (two shared cores under load make any bound either
/// loose or flaky); these fail when the mechanism is lost: a build that stops compiling R2R, an assembly left out, or a
/// runtime setting that makes the runtime ignore the precompiled code and JIT everything again.</summary>
public sealed class ReadyToRunTests
{
    /// <summary>The output directory the ./fastrelay wrapper runs from, in the configuration this test was built in
    /// (the test's own directory is tests/FastRelay.Tests/bin/CONFIG/net10.0/).</summary>
    private static string CliDirectory { get; } = Path.Combine(RepoPaths.Root, "cli", "bin",
        new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name, "net10.0");

    /// <summary>Every assembly a `quic get` or a relay loads on its way to the first packet: the CLI, the project
    /// references and the package the command line is parsed with.</summary>
    public static TheoryData<string> StartupAssemblies => new(
        "fastrelay.dll", "FastRelay.Runtime.dll", "FastRelay.Descriptors.dll", "FastRelay.Protocols.CustomUdp.dll",
        "FastRelay.Protocols.Quic.dll", "FastRelay.Protocols.Moq.dll", "System.CommandLine.dll");

    [Theory]
    [MemberData(nameof(StartupAssemblies))]
    public void The_cli_output_holds_a_ReadyToRun_image_of(string file)
    {
        Assert.True(IsReadyToRun(Path.Combine(CliDirectory, file)), $"{file} in {CliDirectory} is IL only (no ReadyToRun header)");
    }

    [Fact]
    public void The_cli_the_tests_run_is_the_ReadyToRun_one()
    {
        Assert.True(IsReadyToRun(typeof(QuicCommand).Assembly.Location), typeof(QuicCommand).Assembly.Location + " is IL only");
    }

    [Fact]
    public void Tiered_compilation_stays_off_so_precompiled_code_is_kept_and_the_rest_is_optimised_at_once()
    {
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(CliDirectory, "fastrelay.runtimeconfig.json")));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.False(properties.GetProperty("System.Runtime.TieredCompilation").GetBoolean());
    }

    /// <summary>The runtime really runs the precompiled code: `--help` with R2R code allowed JIT-compiles a small fraction
    /// of the FastRelay methods it JIT-compiles with R2R code ignored (DOTNET_ReadyToRun=0, the IL-only start-up). The
    /// runtime's own JIT summary (DOTNET_JitStdOutFile) names every method it compiles.</summary>
    [Fact]
    public async Task Help_runs_precompiled_code_instead_of_jit_compiling_the_cli()
    {
        var precompiled = await JitCompiledFastRelayMethodsAsync(useReadyToRun: true);
        var ilOnly = await JitCompiledFastRelayMethodsAsync(useReadyToRun: false);

        Assert.True(ilOnly.Count >= 20, $"the IL-only run JIT-compiled only {ilOnly.Count} FastRelay methods: the JIT summary is not working");
        Assert.True(precompiled.Count * 10 <= ilOnly.Count,
            $"{precompiled.Count} of {ilOnly.Count} FastRelay methods were JIT-compiled despite ReadyToRun:\n" + string.Join("\n", precompiled));
    }

    private static bool IsReadyToRun(string path)
    {
        const uint readyToRunSignature = 0x00525452; // "RTR": READYTORUN_HEADER.Signature
        using var pe = new PEReader(File.OpenRead(path));
        var nativeHeader = pe.PEHeaders.CorHeader?.ManagedNativeHeaderDirectory ?? default;
        if (nativeHeader.Size == 0)
            return false;
        return pe.GetSectionData(nativeHeader.RelativeVirtualAddress).GetReader().ReadUInt32() == readyToRunSignature;
    }

    private static async Task<List<string>> JitCompiledFastRelayMethodsAsync(bool useReadyToRun)
    {
        var summary = Path.Combine(Directory.CreateTempSubdirectory("frrr-jit-").FullName, "jit.txt");
        try
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(Path.Combine(CliDirectory, "fastrelay.dll"));
            start.ArgumentList.Add("--help");
            start.Environment["DOTNET_JitDisasmSummary"] = "1";
            start.Environment["DOTNET_JitStdOutFile"] = summary;
            start.Environment["DOTNET_ReadyToRun"] = useReadyToRun ? "1" : "0";
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0, $"fastrelay --help exited with {process.ExitCode}:\n{await output}{await errors}");
            Assert.Contains("Usage:", await output);
            // Lines read "   12: JIT compiled FastRelay.Cli.CliRoot:Create() [FullOpts, IL size=..., code size=...]".
            return File.ReadLines(summary).Where(line => line.Contains("JIT compiled FastRelay.", StringComparison.Ordinal)).ToList();
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(summary)!, recursive: true);
        }
    }
}
