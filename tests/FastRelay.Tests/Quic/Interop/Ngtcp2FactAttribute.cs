using Xunit;

namespace FastRelay.Tests.Quic.Interop;

/// <summary>
/// A fact that needs Debian's ngtcp2 examples (gtlsclient, gtlsserver). When they are missing the test is skipped
/// naming them, except under CI=true, where it runs and fails loudly instead (as the BPF tests do).
/// </summary>
public sealed class Ngtcp2FactAttribute : FactAttribute
{
    public Ngtcp2FactAttribute()
    {
        if (Ngtcp2Tools.Missing is { } missing && !FastRelay.Tests.Runtime.BpfCapabilities.IsCi)
            Skip = $"ngtcp2 examples missing: {missing} (apt-get install ngtcp2-client ngtcp2-server; set CI=true to make this a failure)";
    }
}

/// <summary>The theory form of <see cref="Ngtcp2FactAttribute"/>: same skip rule.</summary>
public sealed class Ngtcp2TheoryAttribute : TheoryAttribute
{
    public Ngtcp2TheoryAttribute()
    {
        if (Ngtcp2Tools.Missing is { } missing && !FastRelay.Tests.Runtime.BpfCapabilities.IsCi)
            Skip = $"ngtcp2 examples missing: {missing} (apt-get install ngtcp2-client ngtcp2-server; set CI=true to make this a failure)";
    }
}

public static class Ngtcp2Tools
{
    public static string? Client { get; } = Find("gtlsclient");
    public static string? Server { get; } = Find("gtlsserver");

    /// <summary>The missing binaries by name, or null when both are there.</summary>
    public static string? Missing { get; } =
        string.Join(", ", new[] { Client is null ? "gtlsclient" : null, Server is null ? "gtlsserver" : null }.OfType<string>()) is { Length: > 0 } m ? m : null;

    public static string RequireClient => Client ?? throw new InvalidOperationException("gtlsclient not found (apt-get install ngtcp2-client)");
    public static string RequireServer => Server ?? throw new InvalidOperationException("gtlsserver not found (apt-get install ngtcp2-server)");

    /// <summary>PATH plus the sbin directories (gtlsserver lives in /usr/sbin, often not on a user's PATH).</summary>
    private static string? Find(string name)
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin"]);
        return dirs.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }
}
