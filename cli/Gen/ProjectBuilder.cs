using System.Text;
using CliWrap;

namespace FastRelay.Cli.Gen;

/// <summary>Builds a user's project so its generated descriptors can be read from the output assembly.</summary>
public static class ProjectBuilder
{
    /// <summary>
    /// Builds <paramref name="projectPath"/> and returns its output assembly. Two steps on purpose: `dotnet build
    /// -getProperty:TargetPath` alone only evaluates the project (the property is answered without running the build),
    /// so an edited descriptor would silently not be compiled and a clean project would have no assembly at all.
    /// </summary>
    public static async Task<string> BuildAsync(string projectPath, CancellationToken cancellationToken)
    {
        var full = Path.GetFullPath(projectPath);
        if (!File.Exists(full))
            throw new UserFacingException($"project not found: {full}");
        var build = await RunDotnetAsync(["build", full, "-nologo", "-v:q", "-clp:NoSummary"], cancellationToken);
        if (build.ExitCode != 0)
            throw new UserFacingException($"building {full} failed (descriptor diagnostics FR0001..FR0020 are listed here):\n{build.Output.TrimEnd()}");
        var query = await RunDotnetAsync(["msbuild", full, "-nologo", "-getProperty:TargetPath"], cancellationToken);
        var target = query.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .LastOrDefault(l => l.EndsWith(".dll", StringComparison.Ordinal));
        if (query.ExitCode != 0 || target is null)
            throw new UserFacingException($"could not find the output assembly of {full}:\n{query.Output.TrimEnd()}");
        if (!File.Exists(target))
            throw new UserFacingException($"{full} built, but its output assembly {target} is missing");
        return target;
    }

    private static async Task<(int ExitCode, string Output)> RunDotnetAsync(string[] arguments, CancellationToken cancellationToken)
    {
        var output = new StringBuilder();
        var result = await CliWrap.Cli.Wrap("dotnet")
            .WithArguments(arguments)
            // A host process that itself runs inside MSBuild or `dotnet test` exports its SDK resolution state; the
            // user's project must resolve its own SDK.
            .WithEnvironmentVariables(env => env
                .Set("MSBuildExtensionsPath", null)
                .Set("MSBuildSDKsPath", null)
                .Set("MSBUILD_EXE_PATH", null))
            .WithStandardOutputPipe(PipeTarget.ToStringBuilder(output))
            .WithStandardErrorPipe(PipeTarget.ToStringBuilder(output))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(cancellationToken);
        return (result.ExitCode, output.ToString());
    }
}
