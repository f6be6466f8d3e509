using Xunit;

namespace FastRelay.Tests.Runtime;

/// <summary>
/// A fact that needs the real kernel: root for bpf(2) and clang to build fixtures. When a capability is missing the
/// test is skipped with its name, except under CI=true, where it runs and fails loudly instead.
/// </summary>
public sealed class BpfFactAttribute : FactAttribute
{
    public BpfFactAttribute()
    {
        if (BpfCapabilities.MissingCapability is { } missing && !BpfCapabilities.IsCi)
            Skip = $"capability missing: {missing} (set CI=true to make this a failure)";
    }
}

/// <summary>The theory form of <see cref="BpfFactAttribute"/>: same skip rule.</summary>
public sealed class BpfTheoryAttribute : TheoryAttribute
{
    public BpfTheoryAttribute()
    {
        if (BpfCapabilities.MissingCapability is { } missing && !BpfCapabilities.IsCi)
            Skip = $"capability missing: {missing} (set CI=true to make this a failure)";
    }
}

internal static class BpfCapabilities
{
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static string? MissingCapability { get; } = Detect();

    private static string? Detect()
    {
        if (!OperatingSystem.IsLinux()) return "Linux kernel with BPF";
        if (!Environment.IsPrivilegedProcess) return "root (CAP_BPF + CAP_NET_ADMIN for BPF_PROG_LOAD of tc programs)";
        if (FindClang() is null) return "clang on PATH (to compile the BPF fixtures)";
        return null;
    }

    public static string? FindClang()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var name in new[] { "clang", "clang-14" })
            {
                var path = Path.Combine(dir, name);
                if (File.Exists(path)) return path;
            }
        }
        return null;
    }
}
