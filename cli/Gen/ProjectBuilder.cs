using System.Text;
using CliWrap;

namespace FastRelay.Cli.Gen;

/// <summary>Builds a user's project so its generated descriptors can be read from the output assembly.</summary>
public static class ProjectBuilder
{
    public static async Task<string> BuildAsync(string projectPath, CancellationToken cancellationToken)
    {
        var full = Path.GetFullPath(projectPath);
        if (!File.Exists(full))
            throw new UserFacingException($"project not found: {full}");
        var stdout = new StringBuilder();
        var result = await CliWrap.Cli.Wrap("dotnet")
            .WithArguments(new[] { "build", full, "-nologo", "-v:q", "-getProperty:TargetPath" })
            .WithStandardOutputPipe(PipeTarget.ToStringBuilder(stdout))
            .WithStandardErrorPipe(PipeTarget.ToStringBuilder(stdout))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(cancellationToken);
        var lines = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (result.ExitCode != 0)
            throw new UserFacingException($"building {full} failed (descriptor diagnostics FR0001..FR0015 are listed here):\n{stdout.ToString().TrimEnd()}");
        var target = lines.LastOrDefault(l => l.EndsWith(".dll", StringComparison.Ordinal));
        return target ?? throw new UserFacingException($"could not find the output assembly of {full}");
    }
}
