using System.IO.Compression;
using System.Xml.Linq;
using FastRelay.Tests.Infrastructure;
using Xunit;

namespace FastRelay.Tests.Packaging;

/// <summary>
/// What scripts/pack.sh puts in each package: the files a user's build and the installed tool need at run time, taken
/// from the repository rather than copies of it, and one version and one set of metadata on every package.
/// </summary>
[Collection(PackagedFeed.CollectionName)]
public sealed class PackageContentsTests(PackagedFeed feed)
{
    private static readonly string[] PackageIds =
        ["FastRelay.Descriptors", "FastRelay.Generator", "FastRelay.Runtime", "FastRelay.Protocols.Quic", "FastRelay.Protocols.Moq", "fastrelay"];

    [Fact]
    public void The_feed_holds_exactly_the_six_packages_all_at_the_version_of_Directory_Build_props()
    {
        var packed = Directory.GetFiles(feed.Feed, "*.nupkg").Select(Path.GetFileName).Order(StringComparer.Ordinal);

        Assert.Equal(PackageIds.Select(id => $"{id}.{feed.Version}.nupkg").Order(StringComparer.Ordinal), packed);
        foreach (var id in PackageIds)
        {
            var metadata = Nuspec(id);
            Assert.Equal(id, Element(metadata, "id"));
            Assert.Equal(feed.Version, Element(metadata, "version"));
            Assert.False(string.IsNullOrWhiteSpace(Element(metadata, "description")));
            Assert.StartsWith("MIT", Element(metadata, "license"));
            Assert.Equal("https://example.invalid/fastrelay.git", metadata.Elements().Single(e => e.Name.LocalName == "repository").Attribute("url")?.Value);
        }
    }

    [Fact]
    public void The_generator_package_is_an_analyzer_whose_build_targets_are_the_repository_file_unchanged()
    {
        using var package = ZipFile.OpenRead(feed.PackagePath("FastRelay.Generator"));
        var entries = package.Entries.Select(e => e.FullName).ToList();

        Assert.Contains("analyzers/dotnet/cs/FastRelay.Generator.dll", entries);
        Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal)); // never a compile reference
        Assert.Equal(File.ReadAllText(Path.Combine(RepoPaths.Root, "cli", "msbuild", "FastRelay.Gen.targets")),
                     Read(package, "build/FastRelay.Generator.targets"));
        var metadata = Nuspec("FastRelay.Generator");
        Assert.Equal("true", Element(metadata, "developmentDependency"));
        Assert.DoesNotContain(metadata.Elements(), e => e.Name.LocalName == "dependencies");
    }

    [Fact]
    public void The_library_packages_depend_on_each_other_by_package_and_never_on_the_generator()
    {
        Assert.Empty(Dependencies("FastRelay.Descriptors")); // the small one a protocol project references
        Assert.Contains("FastRelay.Descriptors", Dependencies("FastRelay.Runtime"));
        Assert.Contains("FastRelay.Runtime", Dependencies("FastRelay.Protocols.Quic"));
        Assert.Contains("FastRelay.Protocols.Quic", Dependencies("FastRelay.Protocols.Moq"));
        foreach (var id in new[] { "FastRelay.Descriptors", "FastRelay.Runtime", "FastRelay.Protocols.Quic", "FastRelay.Protocols.Moq" })
        {
            Assert.DoesNotContain("FastRelay.Generator", Dependencies(id));
            using var package = ZipFile.OpenRead(feed.PackagePath(id));
            Assert.Contains(package.Entries, e => e.FullName == $"lib/net10.0/{id}.dll");
        }
    }

    [Fact]
    public void The_tool_package_carries_every_kernel_template_and_native_source_the_cli_compiles_at_run_time()
    {
        using var package = ZipFile.OpenRead(feed.PackagePath("fastrelay"));
        const string toolDir = "tools/net10.0/any/";
        var entries = package.Entries.Select(e => e.FullName).ToHashSet();

        Assert.Contains(toolDir + "fastrelay.dll", entries);
        Assert.Contains(toolDir + "DotnetToolSettings.xml", entries);
        Assert.Contains("<Command Name=\"fastrelay\"", Read(package, toolDir + "DotnetToolSettings.xml"));
        var templates = Path.Combine(RepoPaths.Root, "bpf-templates");
        var native = Path.Combine(RepoPaths.Root, "cli", "Bench", "native");
        var needed = Directory.EnumerateFiles(templates, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".c", StringComparison.Ordinal) || f.EndsWith(".h", StringComparison.Ordinal))
            .Select(f => (Source: f, Entry: toolDir + "bpf-templates/" + Path.GetRelativePath(templates, f)))
            .Concat(Directory.EnumerateFiles(native, "*.c").Select(f => (Source: f, Entry: toolDir + "Bench/native/" + Path.GetFileName(f))))
            .ToList();
        Assert.Contains(needed, n => n.Entry.EndsWith("bpf-templates/relay.bpf.c", StringComparison.Ordinal));
        foreach (var (source, entry) in needed)
        {
            Assert.Contains(entry, entries);
            Assert.Equal(File.ReadAllText(source), Read(package, entry));
        }
        Assert.Equal("MIT AND GPL-2.0-only", Element(Nuspec("fastrelay"), "license"));
    }

    private XElement Nuspec(string id)
    {
        using var package = ZipFile.OpenRead(feed.PackagePath(id));
        return XDocument.Parse(Read(package, $"{id}.nuspec")).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
    }

    private IReadOnlyList<string> Dependencies(string id) =>
        Nuspec(id).Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => e.Attribute("id")!.Value).ToList();

    private static string Element(XElement metadata, string name) =>
        metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value ?? "";

    private static string Read(ZipArchive package, string entry)
    {
        using var reader = new StreamReader(package.GetEntry(entry)?.Open() ?? throw new Xunit.Sdk.XunitException($"{entry} not in the package"));
        return reader.ReadToEnd();
    }
}
