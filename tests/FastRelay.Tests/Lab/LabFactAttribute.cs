using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Lab;

/// <summary>
/// A fact that builds real network namespaces: Linux, root, and ip/tc/ethtool. When one is missing the test is skipped
/// with its name, except under CI=true, where it runs and fails loudly instead. Loss tests also need clang: they use
/// <see cref="BpfFactAttribute"/> capabilities on top (see <see cref="LabCapabilities.MissingForLoss"/>).
/// </summary>
public sealed class LabFactAttribute : FactAttribute
{
    public LabFactAttribute(bool needsClang = false)
    {
        var missing = needsClang ? LabCapabilities.MissingForLoss : LabCapabilities.Missing;
        if (missing is not null && !BpfCapabilities.IsCi)
            Skip = $"capability missing: {missing} (set CI=true to make this a failure)";
    }
}

/// <summary>The theory form of <see cref="LabFactAttribute"/>.</summary>
public sealed class LabTheoryAttribute : TheoryAttribute
{
    public LabTheoryAttribute(bool needsClang = false)
    {
        var missing = needsClang ? LabCapabilities.MissingForLoss : LabCapabilities.Missing;
        if (missing is not null && !BpfCapabilities.IsCi)
            Skip = $"capability missing: {missing} (set CI=true to make this a failure)";
    }
}

internal static class LabCapabilities
{
    public static string? Missing { get; } = Detect();

    public static string? MissingForLoss { get; } = Missing ?? (BpfCapabilities.FindClang() is null ? "clang on PATH (to compile the loss program)" : null);

    private static string? Detect()
    {
        if (!OperatingSystem.IsLinux()) return "Linux network namespaces";
        if (!Environment.IsPrivilegedProcess) return "root (CAP_NET_ADMIN + CAP_SYS_ADMIN for network namespaces)";
        foreach (var tool in new[] { "ip", "tc", "ethtool" })
            if (FindTool(tool) is null)
                return $"{tool} (apt-get install iproute2 ethtool)";
        return null;
    }

    private static string? FindTool(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Concat(["/usr/sbin", "/sbin"])
        .Select(dir => Path.Combine(dir, name))
        .FirstOrDefault(File.Exists);
}
