namespace FastRelay.Cli.Moq.Viewer;

/// <summary>
/// The viewer's files as the CLI build ships them: moq-viewer/ beside the executable holds index.html, viewer.js and
/// moq.js (@moq/net bundled by scripts/setup.sh from the pinned npm packages in cli/Moq/Viewer). Loaded once at start,
/// so a missing bundle is a clear error before anything listens.
/// </summary>
public sealed class ViewerSite
{
    public const string DirectoryName = "moq-viewer";
    private static readonly string[] Files = ["index.html", "viewer.js", "moq.js"];

    private readonly Dictionary<string, byte[]> _files;

    private ViewerSite(Dictionary<string, byte[]> files) => _files = files;

    public static string DefaultDirectory => Path.Combine(AppContext.BaseDirectory, DirectoryName);

    /// <summary>Reads the files from <paramref name="directory"/>; throws <see cref="UserFacingException"/> naming what is missing.</summary>
    public static ViewerSite Load(string? directory = null)
    {
        directory ??= DefaultDirectory;
        var missing = Files.Where(f => !File.Exists(Path.Combine(directory, f))).ToList();
        if (missing.Count > 0)
            throw new UserFacingException($"--web: the viewer is not built ({string.Join(", ", missing)} missing in {directory}): " +
                "run scripts/setup.sh (it needs npm: npm ci + bundle in cli/Moq/Viewer), then build the CLI again");
        return new ViewerSite(Files.ToDictionary(f => f, f => File.ReadAllBytes(Path.Combine(directory, f))));
    }

    /// <summary>The file for a request path ("/" is index.html), with its content type; null when there is none.</summary>
    public (byte[] Body, string ContentType)? Find(string path) => path switch
    {
        "/" or "/index.html" => (_files["index.html"], "text/html; charset=utf-8"),
        "/viewer.js" => (_files["viewer.js"], "text/javascript; charset=utf-8"),
        "/moq.js" => (_files["moq.js"], "text/javascript; charset=utf-8"),
        _ => null,
    };
}
