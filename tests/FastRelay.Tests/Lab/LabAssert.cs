using System.Text.Json;
using CliWrap;
using CliWrap.Buffered;
using FastRelay.Cli.Lab;
using Xunit;

namespace FastRelay.Tests.Lab;

internal static class LabAssert
{
    /// <summary>No namespace, registry record, scratch directory, or root-namespace interface of the lab is left.</summary>
    public static async Task NothingLeftAsync(string prefix, IEnumerable<string>? macs = null)
    {
        Assert.DoesNotContain(LabTopology.ExistingNamespaces(), ns => ns.StartsWith(prefix + "-", StringComparison.Ordinal));
        var list = await CliWrap.Cli.Wrap("ip").WithArguments(["netns", "list"]).ExecuteBufferedAsync();
        Assert.DoesNotContain(prefix + "-", list.StandardOutput);
        Assert.False(File.Exists(LabRegistry.PathOf(prefix)), "registry record left behind");
        Assert.False(Directory.Exists(Path.Combine(Path.GetTempPath(), "fastrelay-lab", prefix)), "scratch directory left behind");

        var links = await RootLinksAsync();
        Assert.DoesNotContain(links, l => l.Name.Contains(prefix, StringComparison.Ordinal));
        foreach (var mac in macs ?? [])
            Assert.DoesNotContain(links, l => l.Mac == mac);
    }

    public static async Task<List<(string Name, string Mac)>> RootLinksAsync()
    {
        var json = await CliWrap.Cli.Wrap("ip").WithArguments(["-j", "link", "show"]).ExecuteBufferedAsync();
        return JsonDocument.Parse(json.StandardOutput).RootElement.EnumerateArray()
            .Select(l => (l.GetProperty("ifname").GetString()!, l.TryGetProperty("address", out var a) ? a.GetString() ?? "" : ""))
            .ToList();
    }
}
