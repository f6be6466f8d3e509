using System.Diagnostics;
using System.Text.Json;
using FastRelay.Tests.Runtime;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Packaging;

/// <summary>
/// The README walkthrough the way a package user does it: a fresh project in a temporary folder whose only FastRelay
/// inputs are the packed FastRelay.Descriptors and FastRelay.Generator packages (restored from the local feed into a
/// packages folder of its own) and the `fastrelay` tool installed from the same feed. Building it runs the generator
/// and, through the package's build targets, the installed tool's `gen`; the kernel verifies what comes out.
/// </summary>
[Collection(PackagedFeed.CollectionName)]
public sealed class PackageWalkthroughTests(PackagedFeed feed, ITestOutputHelper log)
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(5);

    [BpfFact]
    public void The_readme_walkthrough_builds_and_verifies_with_only_the_packages_and_the_installed_tool()
    {
        var walkthrough = ReadmeWalkthrough.Load();
        var project = Directory.CreateDirectory(Path.Combine(feed.Root, "walkthrough")).FullName;
        File.WriteAllText(Path.Combine(project, "Tick.csproj"), walkthrough.ProjectFile);
        File.WriteAllText(Path.Combine(project, "TickHeader.cs"), walkthrough.Descriptor);
        WriteNuGetConfig(project);
        log.WriteLine($"pack (scripts/pack.sh --no-build): {feed.PackTime.TotalSeconds:F1} s, tool install: {feed.InstallTime.TotalSeconds:F1} s");

        // The package's targets run `fastrelay` from PATH: the installed tool is the one found first, so the objects below
        // come from it (not from a checkout's wrapper or an older global install).
        Assert.Equal(feed.Tool, feed.CommandsOnPath("fastrelay").FirstOrDefault());

        // Step 3: build. The generator runs in the compiler; the package's targets run the installed `fastrelay gen`.
        var watch = Stopwatch.StartNew();
        var build = feed.Run("dotnet", ["build", "-nologo", "-clp:NoSummary"], project, BuildTimeout);
        log.WriteLine($"dotnet build (restore + generator + gen after build): {watch.Elapsed.TotalSeconds:F1} s");
        Assert.True(build.Exit == 0, build.Output);
        var afterBuild = Path.Combine(project, "bin", "Debug", "net10.0", "bpf"); // where the README says they land
        foreach (var file in new[] { "tick_feed.bpf.o", "tick_feed.fastrelay.h", "manifest.json" })
            Assert.True(File.Exists(Path.Combine(afterBuild, file)), $"{file} missing in {afterBuild}:\n{build.Output}");
        Assert.Contains("#define", File.ReadAllText(Path.Combine(afterBuild, "tick_feed.fastrelay.h")));
        AssertOnlyPackagesFromTheFeed(project);

        // Step 4 as written, through the installed tool; then the objects the build made, verified the same way.
        foreach (var command in walkthrough.Commands)
        {
            watch.Restart();
            var run = feed.Run(feed.Tool, command[1..], project, BuildTimeout);
            log.WriteLine($"{string.Join(' ', command)}: {watch.Elapsed.TotalSeconds:F1} s");
            Assert.True(run.Exit == 0, $"{string.Join(' ', command)} failed:\n{run.Output}");
            if (command[1] == "verify")
                Assert.Contains("all programs accepted by the kernel", run.Output);
        }
        Assert.Contains(walkthrough.Commands, c => c[1] == "gen");
        Assert.Contains(walkthrough.Commands, c => c[1] == "verify");

        var verify = feed.Run(feed.Tool, ["verify", afterBuild], project, BuildTimeout);
        Assert.True(verify.Exit == 0, verify.Output);
        Assert.Matches(@"fr_upstream_ingress\s+accepted", verify.Output);
        Assert.Contains("shared structs match the C# mirrors", verify.Output);
        Assert.Contains("all programs accepted by the kernel", verify.Output);
    }

    [Fact]
    public void Without_the_tool_the_generator_packages_build_step_says_what_to_install()
    {
        var walkthrough = ReadmeWalkthrough.Load();
        var project = Directory.CreateDirectory(Path.Combine(feed.Root, "no-tool")).FullName;
        File.WriteAllText(Path.Combine(project, "Tick.csproj"), walkthrough.ProjectFile);
        File.WriteAllText(Path.Combine(project, "TickHeader.cs"), walkthrough.Descriptor);
        WriteNuGetConfig(project);
        Assert.True(feed.CommandsOnPath("fastrelay", withTool: false).Count == 0,
            "a fastrelay is on this machine's PATH, so a build here cannot show a missing tool: " + string.Join(", ", feed.CommandsOnPath("fastrelay", withTool: false)));

        var build = feed.Run("dotnet", ["build", "-nologo", "-clp:NoSummary"], project, BuildTimeout, withTool: false);

        Assert.NotEqual(0, build.Exit);
        Assert.Contains("fastrelay was not found: install the tool (dotnet tool install -g fastrelay", build.Output);
        Assert.True(File.Exists(Path.Combine(project, "bin", "Debug", "net10.0", "Tick.dll")), build.Output); // only gen failed
        var skipped = feed.Run("dotnet", ["build", "-nologo", "-clp:NoSummary", "-p:FastRelayGen=false"], project, BuildTimeout, withTool: false);
        Assert.True(skipped.Exit == 0, skipped.Output);
    }

    /// <summary>The feed for FastRelay packages (and only it: source mapping), nuget.org for the rest, and this run's
    /// packages folder.</summary>
    private void WriteNuGetConfig(string project) =>
        File.WriteAllText(Path.Combine(project, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="{feed.Packages}" /></config>
              <packageSources>
                <clear />
                <add key="fastrelay" value="{feed.Feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="fastrelay"><package pattern="FastRelay.*" /><package pattern="fastrelay" /></packageSource>
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);

    /// <summary>The restore graph holds no project references (nothing from the checkout) and not the runtime (a protocol
    /// project needs only the descriptors package), and the FastRelay packages were extracted into this run's packages
    /// folder from the feed just packed.</summary>
    private void AssertOnlyPackagesFromTheFeed(string project)
    {
        using var assets = JsonDocument.Parse(File.ReadAllText(Path.Combine(project, "obj", "project.assets.json")));
        var libraries = assets.RootElement.GetProperty("libraries").EnumerateObject().ToList();
        Assert.DoesNotContain(libraries, l => l.Value.GetProperty("type").GetString() != "package");
        Assert.DoesNotContain(libraries, l => l.Name.StartsWith("FastRelay.Runtime/", StringComparison.Ordinal)); // the small package suffices
        foreach (var id in new[] { "FastRelay.Descriptors", "FastRelay.Generator" })
        {
            Assert.Contains(libraries, l => l.Name == $"{id}/{feed.Version}");
            var metadata = Path.Combine(feed.Packages, id.ToLowerInvariant(), feed.Version, ".nupkg.metadata");
            using var source = JsonDocument.Parse(File.ReadAllText(metadata));
            Assert.Equal(Path.TrimEndingDirectorySeparator(feed.Feed), Path.TrimEndingDirectorySeparator(source.RootElement.GetProperty("source").GetString()!));
        }
    }
}
