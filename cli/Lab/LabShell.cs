using System.Text;
using CliWrap;
using CliWrap.Buffered;

namespace FastRelay.Cli.Lab;

/// <summary>A lab command (ip, tc, ethtool, clang) failed; the message names the command and carries its stderr.</summary>
public sealed class LabException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Runs the iproute2/ethtool tools through CliWrap and turns a failure into one readable <see cref="LabException"/>.</summary>
internal static class LabShell
{
    public static string Ip => Tool("ip");
    public static string Tc => Tool("tc");
    public static string Ethtool => Tool("ethtool");

    /// <summary>Finds a tool on PATH, then in the sbin directories (which sudo's PATH often lacks).</summary>
    public static string Tool(string name) => TryTool(name)
        ?? throw new LabException($"{name} not found on PATH or in /usr/sbin, /sbin (Debian: apt-get install iproute2 ethtool)");

    public static string? TryTool(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .Select(dir => Path.Combine(dir, name))
        .FirstOrDefault(File.Exists);

    /// <summary>Runs a tool and returns its stdout; throws <see cref="LabException"/> on a non-zero exit.</summary>
    public static async Task<string> RunAsync(string tool, IReadOnlyList<string> args, CancellationToken cancellationToken = default)
    {
        var result = await TryRunAsync(tool, args, cancellationToken);
        if (result.ExitCode != 0)
            throw new LabException($"`{Format(tool, args)}` failed (exit {result.ExitCode}): {result.StandardError.Trim()}");
        return result.StandardOutput;
    }

    /// <summary>Runs a tool and returns whatever happened; for callers that accept some failures (EEXIST, ENOENT).</summary>
    public static Task<BufferedCommandResult> TryRunAsync(string tool, IReadOnlyList<string> args, CancellationToken cancellationToken = default) =>
        CliWrap.Cli.Wrap(Path.IsPathRooted(tool) ? tool : Tool(tool))
            .WithArguments(args)
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync(Encoding.UTF8, cancellationToken);

    public static string Format(string tool, IEnumerable<string> args) =>
        string.Join(' ', new[] { Path.GetFileName(tool) }.Concat(args.Select(a => a.Contains(' ') ? $"'{a}'" : a)));
}
