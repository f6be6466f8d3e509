using Microsoft.CodeAnalysis;
using Xunit;

namespace FastRelay.Tests.Generator;

/// <summary>
/// MaxChannels and KernelCachePackets are each checked on their own (FR0002), but fr_cache holds their product, each
/// entry FR_CACHE_PACKET_BYTES and more: 65536 × 65536 overflowed the generator's int and the C macro, and a product that
/// fits still pins memory the kernel cannot swap. The product is diagnosed with the memory it implies.
/// </summary>
public sealed class KernelCacheSizeDiagnosticTests
{
    private const string Path = "/src/Probe.cs";
    private const string MatchKind = """    [Match(0, Value = 0x01)] public byte Kind { get; init; }""";
    private const string Channel = """    [Channel(1)] public ushort Channel { get; init; }""";
    private const string Sequence = """    [PacketNumber(3)] public uint Sequence { get; init; }""";

    private static GeneratorRun Run(int maxChannels, int cachePackets) => GeneratorHarness.Run(new TestSource(Path, DiagnosticTests.Descriptor(
        $"""FastRelayProtocol("probe", UdpPort = 9000, MaxChannels = {maxChannels}, KernelCachePackets = {cachePackets})""",
        MatchKind, Channel, Sequence)));

    [Theory]
    [InlineData(65536, 65536, "4294967296 entries")] // 2^32: the int product was 0, the u32 max_entries too
    [InlineData(32768, 65536, "2147483648 entries")] // 2^31: the int product was negative
    [InlineData(1024, 1024, "1048576 entries")]      // fits every integer, but 1.5 GiB of kernel memory
    public void A_kernel_cache_too_large_for_the_kernel_is_an_error_naming_entries_and_memory(int maxChannels, int cachePackets, string entries)
    {
        var run = Run(maxChannels, cachePackets);

        var diagnostic = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("FR0018", diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        var message = diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"MaxChannels × KernelCachePackets = {maxChannels} × {cachePackets} = {entries}", message);
        Assert.Contains("MiB", message);
        Assert.Empty(run.GeneratedSources);
    }

    [Fact]
    public void A_large_kernel_cache_that_fits_is_a_warning_with_its_memory_and_still_generates()
    {
        // 64 × 1024 entries of 1496 bytes: 93.5 MiB of kernel memory.
        var run = Run(64, 1024);

        var diagnostic = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("FR0019", diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Warning, diagnostic.Severity);
        Assert.Contains("65536 entries", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("93.5 MiB", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        // fr_cache's map description: value size 1496, max_entries 65536.
        Assert.Contains("1496, 65536)", run.AssertCompilesCleanly().Source(".ProbeFastPath.g.cs").SourceText.ToString());
    }

    [Fact]
    public void The_bundled_custom_udp_cache_is_below_the_warning()
    {
        // 16 × 1024 entries: 23.4 MiB.
        Assert.Empty(Run(16, 1024).GeneratorDiagnostics);
    }
}
