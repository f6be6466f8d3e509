using System.Text;

namespace FastRelay.Protocols.Quic.Http3;

/// <summary>
/// Maps a request :path onto a file under a root directory without letting it escape: the query and fragment are
/// dropped, percent-escapes decoded (so %2e%2e is "..", and bad escapes, NUL and backslashes are 400), any ".."
/// segment is refused (400), and the result is resolved like realpath(3) — every symlink followed — and must still
/// lie under the (equally resolved) root, otherwise it is reported as missing (404). Directories serve index.html.
/// </summary>
public sealed class Http3StaticFiles
{
    public Http3StaticFiles(string root)
    {
        Root = RealPath(Path.GetFullPath(root)) ?? throw new DirectoryNotFoundException($"root directory {root} does not exist");
        if (!Directory.Exists(Root))
            throw new DirectoryNotFoundException($"root {root} is not a directory");
    }

    /// <summary>The root with all symlinks resolved.</summary>
    public string Root { get; }

    /// <summary>200 with the file's real path, or 400 / 404.</summary>
    public int Resolve(string requestPath, out string? file)
    {
        file = null;
        int end = requestPath.IndexOfAny(['?', '#']);
        if (end >= 0)
            requestPath = requestPath[..end];
        if (!requestPath.StartsWith('/'))
            return 400;
        if (!TryPercentDecode(requestPath, out string? decoded) || decoded.Contains('\0') || decoded.Contains('\\'))
            return 400;
        var segments = decoded.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Any(s => s == ".."))
            return 400;
        string candidate = Path.Join([Root, .. segments.Where(s => s != ".")]);
        string? real = RealPath(candidate);
        if (real is null || !IsUnderRoot(real))
            return 404;
        if (Directory.Exists(real))
        {
            real = RealPath(Path.Join(real, "index.html"));
            if (real is null || !IsUnderRoot(real))
                return 404;
        }
        if (!File.Exists(real))
            return 404;
        file = real;
        return 200;
    }

    /// <summary>
    /// The content-type for a served file, by extension (case-insensitive). Browsers need it: Chromium refuses an ES
    /// module (&lt;script type="module"&gt;, import) served without a JavaScript MIME type, and sniffs nothing for
    /// application/octet-stream, the fallback for everything not listed.
    /// </summary>
    public static string ContentTypeFor(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".html" or ".htm" => "text/html; charset=utf-8",
        ".js" or ".mjs" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".json" => "application/json",
        ".wasm" => "application/wasm",
        ".png" => "image/png",
        ".svg" => "image/svg+xml",
        ".txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };

    private bool IsUnderRoot(string real) =>
        real == Root || real.StartsWith(Root.EndsWith('/') ? Root : Root + "/", StringComparison.Ordinal);

    private static bool TryPercentDecode(string path, out string decoded)
    {
        decoded = path;
        if (!path.Contains('%'))
            return true;
        var bytes = new List<byte>(path.Length);
        var utf8 = Encoding.UTF8.GetBytes(path);
        for (int i = 0; i < utf8.Length; i++)
        {
            if (utf8[i] != '%')
            {
                bytes.Add(utf8[i]);
                continue;
            }
            if (i + 2 >= utf8.Length || !Uri.IsHexDigit((char)utf8[i + 1]) || !Uri.IsHexDigit((char)utf8[i + 2]))
                return false;
            bytes.Add((byte)(Uri.FromHex((char)utf8[i + 1]) * 16 + Uri.FromHex((char)utf8[i + 2])));
            i += 2;
        }
        try
        {
            decoded = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes.ToArray());
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    /// <summary>realpath(3) in managed code: walks the components, following each symlink (up to 40), applying ".."
    /// to the already-resolved prefix. Null when a component does not exist or links loop.</summary>
    public static string? RealPath(string absolutePath)
    {
        var pending = new Stack<string>(absolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse());
        string current = "/";
        int links = 0;
        while (pending.Count > 0)
        {
            string part = pending.Pop();
            if (part == ".")
                continue;
            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? "/";
                continue;
            }
            string next = Path.Join(current, part);
            string? target;
            try
            {
                target = new FileInfo(next).LinkTarget;
            }
            catch (IOException)
            {
                return null;
            }
            if (target is not null)
            {
                if (++links > 40)
                    return null;
                foreach (var t in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse())
                    pending.Push(t);
                if (target.StartsWith('/'))
                    current = "/";
                continue;
            }
            if (!File.Exists(next) && !Directory.Exists(next))
                return null;
            current = next;
        }
        return current;
    }
}
