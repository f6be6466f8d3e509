using System.Runtime.InteropServices;
using System.Text;
using CliWrap;
using CliWrap.Buffered;

namespace FastRelay.Cli.Gen;

/// <summary>Finds clang and runs it. Kept apart from the build steps so a missing compiler is one clear message.</summary>
public sealed class ClangToolchain
{
    private ClangToolchain(string path, string version)
    {
        Path = path;
        Version = version;
    }

    public string Path { get; }

    /// <summary>First line of <c>clang --version</c>, recorded in the manifest.</summary>
    public string Version { get; }

    public static async Task<ClangToolchain> FindAsync(string? explicitPath, CancellationToken cancellationToken)
    {
        var candidate = explicitPath ?? Environment.GetEnvironmentVariable("FASTRELAY_CLANG") ?? FindOnPath("clang");
        if (candidate is null || !File.Exists(candidate))
            throw new UserFacingException(
                "clang not found: install it (apt-get install clang llvm libbpf-dev) or pass --clang PATH / set FASTRELAY_CLANG");
        var result = await CliWrap.Cli.Wrap(candidate).WithArguments("--version")
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync(cancellationToken);
        var version = result.StandardOutput.Split('\n', 2)[0].Trim();
        return new ClangToolchain(candidate, version);
    }

    /// <summary>Compiles one BPF C file. Returns clang's diagnostics (empty on a clean build); throws when it fails.</summary>
    public async Task<string> CompileBpfAsync(string source, string output, IEnumerable<string> includeDirs, IEnumerable<string> defines, CancellationToken cancellationToken)
    {
        var args = new List<string> { "-O2", "-g", "-target", "bpf", "-mcpu=v3", "-Wall", "-Wno-unused-function" };
        args.Add("-I" + MultiarchIncludeDir());
        args.AddRange(includeDirs.Select(d => "-I" + d));
        args.AddRange(defines.Select(d => "-D" + d));
        args.AddRange(new[] { "-c", source, "-o", output });
        var stderr = new StringBuilder();
        var result = await CliWrap.Cli.Wrap(Path).WithArguments(args)
            .WithStandardErrorPipe(PipeTarget.ToStringBuilder(stderr))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(cancellationToken);
        if (result.ExitCode != 0)
            throw new ClangFailedException(stderr.ToString());
        return stderr.ToString();
    }

    /// <summary>asm/types.h lives under the Debian multiarch directory; BPF targets don't search it by default.</summary>
    private static string MultiarchIncludeDir() => RuntimeInformation.OSArchitecture switch
    {
        Architecture.Arm64 => "/usr/include/aarch64-linux-gnu",
        _ => "/usr/include/x86_64-linux-gnu",
    };

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => System.IO.Path.Combine(dir, name))
        .FirstOrDefault(File.Exists);
}

/// <summary>clang exited non-zero; <see cref="Diagnostics"/> holds its stderr.</summary>
public sealed class ClangFailedException(string diagnostics) : Exception("clang failed")
{
    public string Diagnostics { get; } = diagnostics;
}
