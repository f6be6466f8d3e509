using System.Text.Json;
using FastRelay.Cli;
using FastRelay.Cli.Gen;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Cli;

/// <summary>`fastrelay gen` as a user meets it: the manifest it writes and the errors it gives.</summary>
public sealed class GenCommandTests : IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("fastrelay-gencli-").FullName;

    [BpfFact]
    public async Task Gen_for_two_protocols_keeps_both_in_one_manifest()
    {
        var pipeline = await Pipeline();
        var manifest = Manifest.Load(_out);
        foreach (var name in new[] { "custom-udp", "quic" })
        {
            manifest = manifest.With(await pipeline.BuildAsync(ProtocolCatalog.Profile(name), _out, CancellationToken.None));
            manifest.Save(_out);
        }
        // A second gen of one protocol replaces its entry rather than appending a duplicate.
        manifest = Manifest.Load(_out).With(await pipeline.BuildAsync(ProtocolCatalog.Profile("quic"), _out, CancellationToken.None));
        manifest.Save(_out);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_out, Manifest.FileName)));
        var protocols = json.RootElement.GetProperty("protocols").EnumerateArray().ToList();
        Assert.Equal(new[] { "custom_udp", "quic_moq" }, protocols.Select(p => p.GetProperty("name").GetString()));
        var quic = protocols[1];
        Assert.Equal(3, quic.GetProperty("programs").GetArrayLength());
        Assert.Contains(quic.GetProperty("maps").EnumerateArray(), m => m.GetProperty("name").GetString() == "fr_streams");
        Assert.True(File.Exists(Path.Combine(_out, "quic_moq.bpf.o")));
        Assert.True(File.Exists(Path.Combine(_out, "quic_moq.fastrelay.h")));
    }

    [Fact]
    public async Task A_missing_clang_is_one_clear_message()
    {
        var e = await Assert.ThrowsAsync<UserFacingException>(() => ClangToolchain.FindAsync("/nonexistent/clang", CancellationToken.None));
        Assert.Contains("clang not found", e.Message);
        Assert.Contains("apt-get install clang", e.Message);
    }

    [Fact]
    public void An_unknown_profile_names_the_bundled_ones()
    {
        var e = Assert.Throws<UserFacingException>(() => ProtocolCatalog.Profile("rtp"));
        Assert.Contains("custom-udp", e.Message);
        Assert.Contains("quic", e.Message);
    }

    [Fact]
    public void An_assembly_without_descriptors_says_how_to_wire_the_generator()
    {
        var e = Assert.Throws<UserFacingException>(() => ProtocolCatalog.FromAssembly(typeof(Xunit.FactAttribute).Assembly.Location));
        Assert.Contains("FastRelayProtocol", e.Message);
        Assert.Contains("analyzer", e.Message);
    }

    [Fact]
    public void A_test_project_descriptor_is_found_in_its_built_assembly()
    {
        var protocols = ProtocolCatalog.FromAssembly(typeof(SampleProtocol.TickHeader).Assembly.Location);
        Assert.Equal("tick_feed", Assert.Single(protocols).Name);
    }

    [BpfFact]
    public async Task A_template_that_does_not_compile_is_reported_with_clangs_error_and_the_descriptor()
    {
        var templates = Directory.CreateTempSubdirectory("fastrelay-badtemplates-").FullName;
        try
        {
            CopyDirectory(RepoPaths.BpfTemplates, templates);
            File.AppendAllText(Path.Combine(templates, GenPipeline.ProgramSource), "\nint broken(void) { return undefined_symbol; }\n");
            var pipeline = new GenPipeline(await ClangToolchain.FindAsync(BpfCapabilities.FindClang(), default), templates, TextWriter.Null);

            var e = await Assert.ThrowsAsync<UserFacingException>(() => pipeline.BuildAsync(ProtocolCatalog.Profile("custom-udp"), _out, default));

            Assert.Contains("clang failed for protocol 'custom_udp'", e.Message);
            Assert.Contains("CustomUdpHeader", e.Message);
            Assert.Contains("undefined_symbol", e.Message);
            Assert.False(File.Exists(Path.Combine(_out, "custom_udp.bpf.o")), "no object may be left behind by a failed build");
        }
        finally
        {
            Directory.Delete(templates, recursive: true);
        }
    }

    [Fact]
    public async Task Missing_templates_are_named()
    {
        var pipeline = new GenPipeline(await FakeToolchain(), "/nonexistent/templates", TextWriter.Null);
        var e = await Assert.ThrowsAsync<UserFacingException>(() => pipeline.BuildAsync(ProtocolCatalog.Profile("quic"), _out, default));
        Assert.Contains("/nonexistent/templates", e.Message);
    }

    private static async Task<GenPipeline> Pipeline() =>
        new(await ClangToolchain.FindAsync(BpfCapabilities.FindClang(), default), RepoPaths.BpfTemplates, TextWriter.Null);

    /// <summary>A toolchain for tests that fail before clang would run: any executable answers --version.</summary>
    private static Task<ClangToolchain> FakeToolchain() => ClangToolchain.FindAsync("/bin/echo", default);

    private static void CopyDirectory(string from, string to)
    {
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    public void Dispose() => Directory.Delete(_out, recursive: true);
}
