using System.CommandLine;
using FastRelay.Cli;
using FastRelay.Cli.Commands;
using FastRelay.Cli.Gen;
using FastRelay.Cli.Relay;
using FastRelay.Tests.Generator;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packaging;
using FastRelay.Tests.Runtime;
using Xunit;
using RepoPaths = FastRelay.Tests.Infrastructure.RepoPaths;

namespace FastRelay.Tests.GenericRelay;

/// <summary>
/// The defects issue 14 found by following the README as a new user: each test fails on the code before its fix.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class NewUserDefectTests(GeneratedObjects objects) : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("frgn-project-").FullName;

    private static string Descriptor(string name, int port) => $$"""
        using FastRelay.Descriptors;

        namespace Defects;

        [FastRelayProtocol("{{name}}", UdpPort = {{port}})]
        public sealed record DefectHeader
        {
            [Match(0, Value = 0x7A)]
            public byte Magic { get; init; }

            [PacketNumber(1)]
            public uint Sequence { get; init; }
        }
        """;

    /// <summary>`gen --project` used to only evaluate the project: a clean project had no assembly ("assembly not found")
    /// and an edited descriptor was read from the previous build.</summary>
    [Fact]
    public async Task Gen_project_builds_a_clean_project_and_then_the_edited_descriptor()
    {
        var root = RepoPaths.Root;
        var csproj = Path.Combine(_project, "Defects.csproj");
        File.WriteAllText(csproj, $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>
              <ItemGroup>
                <ProjectReference Include="{root}/runtime/Descriptors/FastRelay.Descriptors.csproj" />
                <ProjectReference Include="{root}/generator/FastRelay.Generator.csproj" OutputItemType="Analyzer" ReferenceOutputAssembly="false" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(_project, "DefectHeader.cs"), Descriptor("defect_first", 9401));

        var first = await ProjectBuilder.BuildAsync(csproj, CancellationToken.None);
        Assert.True(File.Exists(first), first);
        Assert.Equal(9401, Assert.Single(ProtocolCatalog.FromAssembly(Snapshot(first, "first"))).UdpPort);

        File.WriteAllText(Path.Combine(_project, "DefectHeader.cs"), Descriptor("defect_edited", 9402));
        var second = await ProjectBuilder.BuildAsync(csproj, CancellationToken.None);
        var edited = Assert.Single(ProtocolCatalog.FromAssembly(Snapshot(second, "second")));
        Assert.Equal("defect_edited", edited.Name);
        Assert.Equal(9402, edited.UdpPort);
    }

    /// <summary>A copy of the build output to load from: the runtime caches an image by path for the life of the
    /// process, so loading the rebuilt file from the same path in this test process would see the first build (the
    /// CLI reads a project once per process and is not affected).</summary>
    private string Snapshot(string assembly, string name)
    {
        var copy = Directory.CreateDirectory(Path.Combine(_project, "loaded-" + name)).FullName;
        foreach (var file in Directory.GetFiles(Path.GetDirectoryName(assembly)!))
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        return Path.Combine(copy, Path.GetFileName(assembly));
    }

    /// <summary>The walkthrough's descriptor compiles with no global usings at all (a user's project need not enable
    /// implicit usings; the repository's Directory.Build.props used to hide the missing `using System;`).</summary>
    [Fact]
    public void The_readme_descriptor_compiles_without_implicit_usings()
    {
        var walkthrough = ReadmeWalkthrough.Load();
        Assert.DoesNotContain("ImplicitUsings", walkthrough.ProjectFile);

        var run = GeneratorHarness.Run(new TestSource("TickHeader.cs", walkthrough.Descriptor)).AssertCompilesCleanly();

        Assert.Empty(run.CompilationErrors);
        Assert.Contains(run.GeneratedSources, s => s.HintName.Contains("TickHeader", StringComparison.Ordinal));
    }

    /// <summary>`relay --object` with another protocol's object used to end in an unhandled LayoutMismatchException.</summary>
    [BpfFact]
    public void Another_protocols_object_is_refused_in_one_line_naming_both()
    {
        var quicObject = objects.ObjectPath(GeneratedObjects.Protocol("quic_moq"));

        var e = Assert.Throws<UserFacingException>(() => RelayObjects.EnsureBuiltFor(GeneratedObjects.Protocol("custom_udp"), quicObject));

        Assert.Contains("was not built from", e.Message);
        Assert.Contains("CustomUdpHeader", e.Message);
        Assert.Contains(quicObject, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        // Its own object passes.
        RelayObjects.EnsureBuiltFor(GeneratedObjects.Protocol("custom_udp"), objects.ObjectPath(GeneratedObjects.Protocol("custom_udp")));
    }

    /// <summary>The same through the command line as a user types it: the error surfaces as a UserFacingException (which
    /// Program prints as one line), before anything is attached.</summary>
    [BpfFact]
    public async Task Relay_object_of_another_protocol_ends_in_a_user_error_not_a_crash()
    {
        var quicObject = objects.ObjectPath(GeneratedObjects.Protocol("quic_moq"));
        var port = FreeUdpPort();
        var parse = CliRoot.Create().Parse(["relay", "--object", quicObject, "--port", port.ToString(), "--name", "frgn-object", "--interface", "lo"]);

        var e = await Assert.ThrowsAsync<UserFacingException>(() => parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));

        Assert.Contains("was not built from", e.Message);
    }

    [Fact]
    public void Relay_profile_names_the_relays_that_exist()
    {
        var unknown = Assert.Throws<UserFacingException>(() => RelayCommand.CheckProfile("rtp"));
        Assert.Contains("unknown profile 'rtp'", unknown.Message);
        Assert.Contains("custom-udp", unknown.Message);
        Assert.Contains("fastrelay moq relay", unknown.Message);
        Assert.Contains("--assembly", unknown.Message);
        Assert.DoesNotContain("not built yet", unknown.Message);

        var quic = Assert.Throws<UserFacingException>(() => RelayCommand.CheckProfile("quic"));
        Assert.Contains("fastrelay moq relay", quic.Message);
        RelayCommand.CheckProfile("custom-udp");
    }

    /// <summary>Every protocol the suite builds compiles without a clang diagnostic (the templates used to warn
    /// "variable 'cross_family' set but not used" for any descriptor without a kernel cache).</summary>
    [BpfFact]
    public async Task Gen_prints_no_clang_warning_for_any_protocol()
    {
        var clang = await ClangToolchain.FindAsync(BpfCapabilities.FindClang(), CancellationToken.None);
        foreach (var protocol in GeneratedObjects.AllProtocols)
        {
            var diagnostics = new StringWriter();
            await new GenPipeline(clang, RepoPaths.BpfTemplates, diagnostics).BuildAsync(protocol, Path.Combine(_project, protocol.Name), CancellationToken.None);
            Assert.True(diagnostics.ToString().Length == 0, $"{protocol.Name}: {diagnostics}");
        }
    }

    private static int FreeUdpPort()
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetworkV6, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp) { DualMode = true };
        socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.IPv6Any, 0));
        return ((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public void Dispose() => Directory.Delete(_project, recursive: true);
}
