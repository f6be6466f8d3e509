using Xunit;
using System.Collections.Concurrent;
using System.Diagnostics;

namespace FastRelay.Tests.Runtime;

/// <summary>
/// Compiles the C fixtures (copied next to the test assembly) once per test run into a private temp directory,
/// deleted when the collection finishes. Compilation is lazy so skipped tests never need clang.
/// </summary>
public sealed class CompiledFixtures : IDisposable
{
    public const string Runtime = "runtime_fixture";
    public const string Rejected = "rejected_fixture";

    private readonly string _dir = Directory.CreateTempSubdirectory("fastrelay-bpf-fixtures-").FullName;
    private readonly ConcurrentDictionary<string, Lazy<string>> _objects = new();

    /// <summary>Path of the compiled <c>&lt;name&gt;.bpf.o</c>.</summary>
    public string Object(string name) =>
        _objects.GetOrAdd(name, n => new Lazy<string>(() => Compile(n))).Value;

    private string Compile(string name)
    {
        var clang = BpfCapabilities.FindClang()
            ?? throw new InvalidOperationException("clang was not found on PATH; install clang (14+) to build the BPF test fixtures");
        var source = Path.Combine(AppContext.BaseDirectory, "Runtime", "Fixtures", name + ".bpf.c");
        if (!File.Exists(source)) throw new FileNotFoundException("fixture source not copied to the test output", source);
        var output = Path.Combine(_dir, name + ".bpf.o");

        var psi = new ProcessStartInfo(clang)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        // -g is what produces the BTF the layout tests read.
        foreach (var a in new[] { "-O2", "-g", "-target", "bpf", "-mcpu=v3", "-I/usr/include/x86_64-linux-gnu", "-c", source, "-o", output })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"clang failed ({p.ExitCode}) compiling {source}:\n{stderr.Result}");
        return output;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

[CollectionDefinition(Name)]
public sealed class BpfCollection : ICollectionFixture<CompiledFixtures>
{
    // One collection: these tests share compiled fixtures and the process-wide libbpf print hook.
    public const string Name = "FastRelay.Runtime.Bpf";
}
