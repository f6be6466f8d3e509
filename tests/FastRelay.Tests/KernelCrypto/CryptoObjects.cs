using System.Collections.Concurrent;
using FastRelay.Cli.Gen;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.KernelCrypto;

/// <summary>
/// Compiles bpf-templates/crypto/*.bpf.c once per test run (clang, the same flags as every template: ClangToolchain)
/// into a private temp directory removed at the end. Lazy, so skipped tests never need clang.
/// </summary>
public sealed class CryptoObjects : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastrelay-crypto-").FullName;
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _built = new();

    public static string SourceDir => Path.Combine(RepoPaths.BpfTemplates, "crypto");

    /// <summary>The object built from <paramref name="source"/> (e.g. "quic_aead.bpf.c").</summary>
    public string ObjectPath(string source) =>
        _built.GetOrAdd(source, s => new Lazy<Task<string>>(() => CompileAsync(s))).Value.GetAwaiter().GetResult();

    private async Task<string> CompileAsync(string source)
    {
        var clang = await ClangToolchain.FindAsync(BpfCapabilities.FindClang(), CancellationToken.None);
        var output = Path.Combine(_dir, Path.ChangeExtension(source, ".o"));
        try
        {
            await clang.CompileBpfAsync(Path.Combine(SourceDir, source), output, [SourceDir], [], CancellationToken.None);
        }
        catch (ClangFailedException e)
        {
            throw new InvalidOperationException($"compiling {source} failed:\n{e.Diagnostics}", e);
        }
        return output;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

[CollectionDefinition(Name)]
public sealed class CryptoObjectsCollection : ICollectionFixture<CryptoObjects>
{
    public const string Name = "FastRelay.CryptoObjects";
}
