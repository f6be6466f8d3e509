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
        await AssertHelpRunsPrecompiledCodeAsync("dotnet", Path.Combine(CliDirectory, "fastrelay.dll"));
    }

    /// <summary>Runs `COMMAND [DLL] --help` with R2R code allowed and with it ignored, and asserts the first JIT-compiles at
    /// most a tenth of the FastRelay methods the second does.</summary>
    internal static async Task AssertHelpRunsPrecompiledCodeAsync(string command, string? dll)
    {
        var precompiled = await JitCompiledFastRelayMethodsAsync(command, dll, useReadyToRun: true);
        var ilOnly = await JitCompiledFastRelayMethodsAsync(command, dll, useReadyToRun: false);

        Assert.True(ilOnly.Count >= 20, $"the IL-only run JIT-compiled only {ilOnly.Count} FastRelay methods: the JIT summary is not working");
        Assert.True(precompiled.Count * 10 <= ilOnly.Count,
            $"{precompiled.Count} of {ilOnly.Count} FastRelay methods were JIT-compiled despite ReadyToRun:\n" + string.Join("\n", precompiled));
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

    private static async Task<List<string>> JitCompiledFastRelayMethodsAsync(string command, string? dll, bool useReadyToRun)
    {
        var summary = Path.Combine(Directory.CreateTempSubdirectory("frrr-jit-").FullName, "jit.txt");
        try
        {
            var start = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true };
            if (dll is not null)
                start.ArgumentList.Add(dll);
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

/// <summary>The installed .NET tool starts from precompiled code too: scripts/pack.sh puts the images the build compiled
/// into the tool package (tools/net10.0/any/, the RID-agnostic layout), and the tool installed from it runs them.</summary>
[Collection(PackagedFeed.CollectionName)]
public sealed class ReadyToRunToolPackageTests(PackagedFeed feed)
{
    [Fact]
    public void The_tool_package_holds_ReadyToRun_images_of_the_cli_and_its_project_references()
    {
        using var package = ZipFile.OpenRead(feed.PackagePath("fastrelay"));
        foreach (var file in new[] { "fastrelay.dll", "FastRelay.Runtime.dll", "FastRelay.Protocols.Quic.dll", "FastRelay.Protocols.Moq.dll" })
        {
            var entry = package.GetEntry("tools/net10.0/any/" + file);
            Assert.True(entry is not null, file + " is missing from the tool package");
            using var image = new MemoryStream();
            using (var stream = entry.Open())
                stream.CopyTo(image);
            image.Position = 0;
            Assert.True(ReadyToRunTests.IsReadyToRun(image), file + " in the tool package is IL only");
        }
    }

    [Fact]
    public async Task The_installed_tool_runs_precompiled_code()
    {
        await ReadyToRunTests.AssertHelpRunsPrecompiledCodeAsync(feed.Tool, dll: null);
    }
}
