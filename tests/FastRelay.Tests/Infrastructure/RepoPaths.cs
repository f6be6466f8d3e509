namespace FastRelay.Tests.Infrastructure;

/// <summary>Locates the checkout the tests were built from, so tests exercise the repository's own templates.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string BpfTemplates => Path.Combine(Root, "bpf-templates");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Toolkit.sln")))
                return dir.FullName;
        throw new InvalidOperationException("Toolkit.sln not found above " + AppContext.BaseDirectory);
    }
}
