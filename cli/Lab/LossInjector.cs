using System.Globalization;
using FastRelay.Cli.Gen;

namespace FastRelay.Cli.Lab;

/// <summary>
/// Loss without netem: bpf-templates/lab/loss.bpf.c compiled with the drop probability (and optional seed) as -D
/// defines, one small object per setting, attached by tc itself as a direct-action filter on clsact ingress.
/// </summary>
internal static class LossInjector
{
    /// <summary>Our filter's place on the ingress hook: first, so it acts like loss on the wire.</summary>
    public const string Preference = "1";
    public const string Handle = "1";

    /// <summary>Drop threshold for a uniform 32-bit draw: percent of 2^32 (2^32 itself drops everything).</summary>
    public static ulong Threshold(double percent)
    {
        if (double.IsNaN(percent) || percent is < 0 or > 100)
            throw new ArgumentOutOfRangeException(nameof(percent), percent, "loss must be between 0 and 100 %");
        return (ulong)Math.Round(percent / 100.0 * 4294967296.0);
    }

    public static async Task<string> CompileAsync(string workDirectory, double percent, ulong? seed, LabOptions options, CancellationToken cancellationToken)
    {
        var templates = options.TemplatesDirectory ?? GenPipeline.DefaultTemplatesDir;
        var source = Path.Combine(templates, "lab", "loss.bpf.c");
        if (!File.Exists(source))
            throw new UserFacingException($"loss program not found: {source}");
        var threshold = Threshold(percent);
        Directory.CreateDirectory(workDirectory);
        var output = Path.Combine(workDirectory, $"loss-{threshold}-{seed?.ToString(CultureInfo.InvariantCulture) ?? "random"}.o");
        if (File.Exists(output) && File.GetLastWriteTimeUtc(output) >= File.GetLastWriteTimeUtc(source))
            return output;

        var clang = await ClangToolchain.FindAsync(options.Clang, cancellationToken);
        List<string> defines = [$"LOSS_THRESHOLD={threshold}ULL"];
        if (seed is { } s)
            defines.Add($"LOSS_SEED={s}ULL");
        var temporary = output + ".tmp" + Environment.ProcessId;
        try
        {
            await clang.CompileBpfAsync(source, temporary, [], defines, cancellationToken);
        }
        catch (ClangFailedException e)
        {
            throw new LabException($"compiling {source} failed:\n{e.Diagnostics}", e);
        }
        File.Move(temporary, output, overwrite: true);
        return output;
    }

    /// <summary>clsact (kept if it exists) + our filter, replacing an earlier loss filter in one step.</summary>
    public static async Task AttachAsync(string ns, string device, string obj, CancellationToken cancellationToken)
    {
        var qdisc = await LabShell.TryRunAsync(LabShell.Tc, ["-n", ns, "qdisc", "add", "dev", device, "clsact"], cancellationToken);
        if (qdisc.ExitCode != 0 && !qdisc.StandardError.Contains("Exclusivity flag on") && !qdisc.StandardError.Contains("File exists"))
            throw new LabException($"tc qdisc add dev {device} clsact in {ns} failed: {qdisc.StandardError.Trim()}");
        // tc (iproute2 with libbpf) loads the object itself; it has no pinned maps, so no bpffs is needed.
        await LabShell.RunAsync(LabShell.Tc, ["-n", ns, "filter", "replace", "dev", device, "ingress",
            "pref", Preference, "handle", Handle, "bpf", "direct-action", "obj", obj, "sec", "tc"], cancellationToken);
    }

    /// <summary>Removes our filter only; fine when there is none.</summary>
    public static async Task DetachAsync(string ns, string device, CancellationToken cancellationToken)
    {
        var show = await LabShell.RunAsync(LabShell.Tc, ["-n", ns, "filter", "show", "dev", device, "ingress", "pref", Preference], cancellationToken);
        if (string.IsNullOrWhiteSpace(show))
            return;
        await LabShell.RunAsync(LabShell.Tc, ["-n", ns, "filter", "del", "dev", device, "ingress", "pref", Preference, "handle", Handle, "bpf"], cancellationToken);
    }
}
