using System.Collections.Concurrent;
using FastRelay.Cli.Gen;
using FastRelay.Generated;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Infrastructure;

/// <summary>
/// Runs the real `fastrelay gen` pipeline (generated header + bpf-templates + clang) once per protocol per test run,
/// into a private temp directory removed at the end. Lazy, so tests that are skipped never need clang.
/// </summary>
public sealed class GeneratedObjects : IDisposable
{
    private readonly string _dir = System.IO.Directory.CreateTempSubdirectory("fastrelay-gen-").FullName;
    private readonly ConcurrentDictionary<string, Lazy<Task<ManifestProtocol>>> _built = new();

    /// <summary>The bundled profiles, the test-project descriptor and the MoldUDP64 example: every protocol the suite builds
    /// and verifies for each.</summary>
    public static IReadOnlyList<GeneratedProtocol> AllProtocols { get; } =
    [
        ProtocolCatalog.Profile("custom-udp"),
        ProtocolCatalog.Profile("quic"),
        SampleProtocol.TickHeaderFastPath.Protocol,
        // The market-data example: the one descriptor with a [MessageCount] (its header has FR_HAS_MESSAGE_COUNT).
        FastRelay.Examples.MoldUdp64.MoldUdp64HeaderFastPath.Protocol,
    ];

    public static GeneratedProtocol Protocol(string name) => AllProtocols.Single(p => p.Name == name);

    public string Directory => _dir;

    /// <summary>Builds (once) and returns the object path of a protocol.</summary>
    public string ObjectPath(GeneratedProtocol protocol) => Path.Combine(_dir, Build(protocol).Object);

    public ManifestProtocol Build(GeneratedProtocol protocol) =>
        _built.GetOrAdd(protocol.Name, _ => new Lazy<Task<ManifestProtocol>>(() => BuildAsync(protocol))).Value.GetAwaiter().GetResult();

    private async Task<ManifestProtocol> BuildAsync(GeneratedProtocol protocol)
    {
        var clang = await ClangToolchain.FindAsync(BpfCapabilities.FindClang(), CancellationToken.None);
        var pipeline = new GenPipeline(clang, RepoPaths.BpfTemplates, TextWriter.Null);
        return await pipeline.BuildAsync(protocol, _dir, CancellationToken.None);
    }

    public void Dispose() => System.IO.Directory.Delete(_dir, recursive: true);
}

[CollectionDefinition(Name)]
public sealed class GeneratedObjectsCollection : ICollectionFixture<GeneratedObjects>
{
    public const string Name = "FastRelay.GeneratedObjects";
}
