using System.Diagnostics;
using System.Text;
using System.Xml.Linq;
using CliWrap;
using FastRelay.Tests.Infrastructure;
using Xunit;

namespace FastRelay.Tests.Packaging;

/// <summary>
/// What a package user has: the repository packed once by scripts/pack.sh into a temporary folder feed, and the
/// `fastrelay` tool installed from that feed with <c>dotnet tool install --tool-path</c>. Shared by every packaging test
/// (one pack per run, not per test); everything lives under one temporary folder that is deleted at the end.
/// Every dotnet process started here gets its own NuGet packages folder, so nothing comes from (or goes to)
/// ~/.nuget/packages: a stale FastRelay package there can neither satisfy nor spoil a restore.
/// </summary>
public sealed class PackagedFeed : IDisposable
{
    public const string CollectionName = "packaging";

    public string Root { get; } = Directory.CreateTempSubdirectory("frpk-packaging-").FullName;
    public string Feed => Path.Combine(Root, "feed");
    public string ToolPath => Path.Combine(Root, "tools");
    public string Packages => Path.Combine(Root, "packages");
    public string Tool => Path.Combine(ToolPath, "fastrelay");

    /// <summary>The one version every package carries, read where it is set.</summary>
    public string Version { get; } = ReadVersion();

    /// <summary>Seconds spent packing and installing the tool (reported by the tests).</summary>
    public TimeSpan PackTime { get; }
    public TimeSpan InstallTime { get; }

    public PackagedFeed()
    {
        try
        {
            var watch = Stopwatch.StartNew();
            var pack = Run("bash", [Path.Combine(RepoPaths.Root, "scripts", "pack.sh"), .. PackBuildOption, Feed], Root, TimeSpan.FromMinutes(10));
            PackTime = watch.Elapsed;
            if (pack.Exit != 0)
                throw new InvalidOperationException("scripts/pack.sh failed:\n" + pack.Output);

            // Installed from the folder holding no NuGet.config (--add-source refuses a config with source mapping).
            watch.Restart();
            var install = Run("dotnet", ["tool", "install", "fastrelay", "--add-source", Feed, "--tool-path", ToolPath, "--version", Version], Root, TimeSpan.FromMinutes(5));
            InstallTime = watch.Elapsed;
            if (install.Exit != 0 || !File.Exists(Tool))
                throw new InvalidOperationException("dotnet tool install fastrelay failed:\n" + install.Output);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>A Release test run packs the Release build it was built with (pack.sh packs Release); a Debug test run
    /// cannot rely on Release outputs being there or current, so pack.sh builds them.</summary>
#if DEBUG
    private static readonly string[] PackBuildOption = [];
#else
    private static readonly string[] PackBuildOption = ["--no-build"];
#endif

    public string PackagePath(string id) => Path.Combine(Feed, $"{id}.{Version}.nupkg");

    /// <summary>Every file of that name on the PATH <see cref="Run"/> gives its processes, in lookup order.</summary>
    public IReadOnlyList<string> CommandsOnPath(string name, bool withTool = true) =>
        ChildPath(withTool).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .Where(File.Exists)
            .Distinct()
            .ToList();

    private string ChildPath(bool withTool) =>
        withTool ? ToolPath + ":" + Environment.GetEnvironmentVariable("PATH") : Environment.GetEnvironmentVariable("PATH") ?? "";

    /// <summary>
    /// Runs a process as a user's shell would: the installed tool's folder first on PATH (so the generator package's
    /// build targets find `fastrelay` as after <c>dotnet tool install -g</c>), this run's own NuGet packages folder,
    /// and none of the test host's MSBuild variables (they would point a nested build at the host's SDK state).
    /// <paramref name="withTool"/> false: a user who has not installed the tool.
    /// </summary>
    public (int Exit, string Output) Run(string program, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout, bool withTool = true)
    {
        var output = new StringBuilder();
        var environment = new Dictionary<string, string?>
        {
            ["PATH"] = ChildPath(withTool),
            ["NUGET_PACKAGES"] = Packages,
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["MSBuildExtensionsPath"] = null,
            ["MSBuildSDKsPath"] = null,
            ["MSBUILD_EXE_PATH"] = null,
        };
        using var cancel = new CancellationTokenSource(timeout);
        var result = CliWrap.Cli.Wrap(program)
            .WithArguments(arguments)
            .WithWorkingDirectory(workingDirectory)
            .WithEnvironmentVariables(environment)
            .WithStandardOutputPipe(PipeTarget.ToStringBuilder(output))
            .WithStandardErrorPipe(PipeTarget.ToStringBuilder(output))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(cancel.Token)
            .GetAwaiter().GetResult();
        return (result.ExitCode, output.ToString());
    }

    private static string ReadVersion()
    {
        var props = XDocument.Load(Path.Combine(RepoPaths.Root, "Directory.Build.props"));
        return props.Descendants("Version").Single().Value.Trim();
    }

    public void Dispose()
    {
        if (Directory.Exists(Root))
            Directory.Delete(Root, recursive: true);
    }
}

[CollectionDefinition(PackagedFeed.CollectionName)]
public sealed class PackagingCollection : ICollectionFixture<PackagedFeed>;
