using System.Diagnostics;
using FastRelay.Cli.Commands;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Cli;

/// <summary>
/// The README's "Describe your own protocol" walkthrough, done for real: a fresh project outside the repository that
/// references the descriptors and the generator and imports FastRelay.Gen.targets builds into a kernel-verified object;
/// a descriptor mistake fails the build with the diagnostic at the attribute.
/// </summary>
public sealed class WalkthroughTests : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("fastrelay-walkthrough-").FullName;

    private const string Descriptor = """
        using FastRelay.Descriptors;

        namespace Walkthrough;

        [FastRelayProtocol("walk_feed", UdpPort = 9300, MaxSubscribers = 4, MaxChannels = 2)]
        public sealed record WalkHeader
        {
            [Match(0, Value = 0x7A)]
            public byte Magic { get; init; }

            [Channel(1)]
            public byte Channel { get; init; }

            [PacketNumber(2)]
            public uint Sequence { get; init; }
        }
        """;

    [BpfFact]
    public void A_new_project_builds_into_a_kernel_verified_object()
    {
        WriteProject(Descriptor);

        var (exit, output) = DotnetBuild();

        Assert.True(exit == 0, output);
        var bpf = Path.Combine(_project, "bpf");
        Assert.True(File.Exists(Path.Combine(bpf, "walk_feed.bpf.o")), output);
        Assert.True(File.Exists(Path.Combine(bpf, "walk_feed.fastrelay.h")));
        var verify = new StringWriter();
        Assert.Equal(0, VerifyCommand.Run(bpf, printAcceptedLogs: false, verify));
        Assert.Contains("all programs accepted by the kernel", verify.ToString());
    }

    [BpfFact]
    public void A_descriptor_mistake_fails_the_build_at_the_attribute()
    {
        WriteProject(Descriptor.Replace("[PacketNumber(2)]", "[PacketNumber(1)]"));

        var (exit, output) = DotnetBuild();

        Assert.NotEqual(0, exit);
        // Line 14 of WalkHeader.cs is the [PacketNumber] attribute; the channel byte it now overlaps is named.
        Assert.Matches(@"WalkHeader\.cs\(14,\d+\): error FR0006: .*Channel field 'Channel'", output);
        Assert.False(File.Exists(Path.Combine(_project, "bpf", "walk_feed.bpf.o")));
    }

    private void WriteProject(string descriptor)
    {
        var root = RepoPaths.Root;
        File.WriteAllText(Path.Combine(_project, "Walkthrough.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <FastRelayGenOutput>{_project}/bpf</FastRelayGenOutput>
              </PropertyGroup>
              <ItemGroup>
                <ProjectReference Include="{root}/runtime/Descriptors/FastRelay.Descriptors.csproj" />
                <ProjectReference Include="{root}/generator/FastRelay.Generator.csproj" OutputItemType="Analyzer" ReferenceOutputAssembly="false" />
              </ItemGroup>
              <Import Project="{root}/cli/msbuild/FastRelay.Gen.targets" />
            </Project>
            """);
        File.WriteAllText(Path.Combine(_project, "WalkHeader.cs"), descriptor);
    }

    private (int Exit, string Output) DotnetBuild()
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _project };
        foreach (var arg in new[] { "build", "-nologo", "-v:q", "-clp:NoSummary" })
            psi.ArgumentList.Add(arg);
        // The test host's MSBuild variables would point the nested build at the test's own SDK resolution state.
        psi.Environment.Remove("MSBuildExtensionsPath");
        psi.Environment.Remove("MSBuildSDKsPath");
        psi.Environment.Remove("MSBUILD_EXE_PATH");
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }

    public void Dispose() => Directory.Delete(_project, recursive: true);
}
