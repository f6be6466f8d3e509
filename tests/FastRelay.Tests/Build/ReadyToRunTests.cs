using System.Diagnostics;
using System.IO.Compression;
using System.Reflection.PortableExecutable;
using System.Text.Json;
using FastRelay.Cli.Commands;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packaging;
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
    internal static string CliDirectory { get; } = Path.Combine(RepoPaths.Root, "cli", "bin",
        new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name, "net10.0");

    /// <summary>What every command loads and runs before it does anything: the CLI (command tree, options, logging
    /// set-up), the descriptor contract, and the packages the command line and the logging are built on.</summary>
    internal static readonly string[] StartupFiles =
    [
        "fastrelay.dll", "FastRelay.Descriptors.dll", "System.CommandLine.dll", "Microsoft.Extensions.Logging.Console.dll",
        "Microsoft.Extensions.DependencyInjection.dll",
    ];

    /// <summary>The data path, precompiled for the short commands (`quic get` sets up a connection with it); the
    /// traffic-carrying commands reject these images at run time (SteadyStateRuntimeTests).</summary>
    internal static readonly string[] DataPathFiles =
        ["FastRelay.Runtime.dll", "FastRelay.Protocols.CustomUdp.dll", "FastRelay.Protocols.Quic.dll", "FastRelay.Protocols.Moq.dll"];

    public static TheoryData<string> PrecompiledAssemblies => new([.. StartupFiles, .. DataPathFiles]);

    [Theory]
    [MemberData(nameof(PrecompiledAssemblies))]
    public void The_cli_output_holds_a_ReadyToRun_image_of(string file)
    {
        Assert.True(IsReadyToRun(Path.Combine(CliDirectory, file)), $"{file} in {CliDirectory} is IL only (no ReadyToRun header)");
    }

    [Fact]
    public void The_cli_the_tests_run_is_the_ReadyToRun_one()
    {
        Assert.True(IsReadyToRun(typeof(QuicCommand).Assembly.Location), typeof(QuicCommand).Assembly.Location + " is IL only");
    }

    /// <summary>The runtimeconfig is the short commands' set-up: tiered compilation on (precompiled code runs as it is,
    /// the rest is quick-JIT-compiled), dynamic PGO off. The traffic-carrying commands override it when they restart
    /// (SteadyStateRuntimeTests).</summary>
    [Fact]
    public void The_runtimeconfig_runs_short_commands_with_tiered_compilation_and_without_dynamic_pgo()
    {
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(CliDirectory, "fastrelay.runtimeconfig.json")));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.True(!properties.TryGetProperty("System.Runtime.TieredCompilation", out var tiered) || tiered.GetBoolean());
        Assert.False(properties.GetProperty("System.Runtime.TieredPGO").GetBoolean());
    }

    /// <summary>The runtime really runs the precompiled code: `relay --help` (which builds the relay command whole; the
    /// root's help builds no command) with R2R code allowed JIT-compiles a small fraction of the CLI's methods it
    /// JIT-compiles with R2R code ignored (DOTNET_ReadyToRun=0, the IL-only start-up). The runtime's own JIT summary
    /// (DOTNET_JitStdOutFile) names every method it compiles.</summary>
    [Fact]
    public async Task Help_runs_precompiled_code_instead_of_jit_compiling_the_cli()
    {
        await AssertHelpRunsPrecompiledCodeAsync("dotnet", Path.Combine(CliDirectory, "fastrelay.dll"));
    }

    /// <summary>Runs `COMMAND [DLL] relay --help` with R2R code allowed and with it ignored, and asserts the first
    /// JIT-compiles at most a tenth of the CLI's (FastRelay.Cli) methods the second does.</summary>
    internal static async Task AssertHelpRunsPrecompiledCodeAsync(string command, string? dll)
    {
        var precompiled = await JitCompiledCliMethodsAsync(command, dll, useReadyToRun: true);
        var ilOnly = await JitCompiledCliMethodsAsync(command, dll, useReadyToRun: false);

        Assert.True(ilOnly.Count >= 20, $"the IL-only run JIT-compiled only {ilOnly.Count} CLI methods: the JIT summary is not working");
        Assert.True(precompiled.Count * 10 <= ilOnly.Count,
            $"{precompiled.Count} of {ilOnly.Count} CLI methods were JIT-compiled despite ReadyToRun:\n" + string.Join("\n", precompiled));
    }

    internal static bool IsReadyToRun(string path)
    {
        using var file = File.OpenRead(path);
        return IsReadyToRun(file);
    }

    internal static bool IsReadyToRun(Stream image)
    {
        const uint readyToRunSignature = 0x00525452; // "RTR": READYTORUN_HEADER.Signature
        using var pe = new PEReader(image, PEStreamOptions.PrefetchEntireImage);
        var nativeHeader = pe.PEHeaders.CorHeader?.ManagedNativeHeaderDirectory ?? default;
        if (nativeHeader.Size == 0)
            return false;
        return pe.GetSectionData(nativeHeader.RelativeVirtualAddress).GetReader().ReadUInt32() == readyToRunSignature;
    }

    private static async Task<List<string>> JitCompiledCliMethodsAsync(string command, string? dll, bool useReadyToRun)
    {
        var summary = Path.Combine(Directory.CreateTempSubdirectory("frrr-jit-").FullName, "jit.txt");
        try
        {
            var start = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true };
            if (dll is not null)
                start.ArgumentList.Add(dll);
            start.ArgumentList.Add("relay");
            start.ArgumentList.Add("--help");
            start.Environment["DOTNET_JitDisasmSummary"] = "1";
            start.Environment["DOTNET_JitStdOutFile"] = summary;
            start.Environment["DOTNET_ReadyToRun"] = useReadyToRun ? "1" : "0";
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{command} relay --help did not exit within 60 s");
            }
            Assert.True(process.ExitCode == 0, $"fastrelay relay --help exited with {process.ExitCode}:\n{await output}{await errors}");
            Assert.Contains("Usage:", await output);
            // Lines read "   12: JIT compiled FastRelay.Cli.CliRoot:Create() [FullOpts, IL size=..., code size=...]".
            return File.ReadLines(summary).Where(line => line.Contains("JIT compiled FastRelay.Cli.", StringComparison.Ordinal)).ToList();
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(summary)!, recursive: true);
        }
    }
}

/// <summary>The installed .NET tool starts from precompiled code too: scripts/pack.sh puts the images the build compiled
/// into the tool package (tools/net10.0/any/, the RID-agnostic layout), and the tool installed from it runs them.</summary>
[Collection(PackagedFeed.CollectionName)]
public sealed class ReadyToRunToolPackageTests(PackagedFeed feed)
{
    [Fact]
    public void The_tool_package_holds_the_ReadyToRun_images_the_build_compiled()
    {
        using var package = ZipFile.OpenRead(feed.PackagePath("fastrelay"));
        foreach (var file in ReadyToRunTests.StartupFiles.Concat(ReadyToRunTests.DataPathFiles))
            Assert.True(IsReadyToRun(package, file), file + " in the tool package is IL only");
    }

    private static bool IsReadyToRun(ZipArchive package, string file)
    {
        var entry = package.GetEntry("tools/net10.0/any/" + file);
        Assert.True(entry is not null, file + " is missing from the tool package");
        var image = new MemoryStream();
        using (var stream = entry.Open())
            stream.CopyTo(image);
        image.Position = 0;
        return ReadyToRunTests.IsReadyToRun(image);
    }

    [Fact]
    public async Task The_installed_tool_runs_precompiled_code()
    {
        await ReadyToRunTests.AssertHelpRunsPrecompiledCodeAsync(feed.Tool, dll: null);
    }
}
