using Microsoft.Extensions.Logging;

namespace FastRelay.Cli.Quic;

internal static class QuicLogging
{
    /// <summary>--qlog-dir: create the directory up front so a bad path is a clear error, not one warning per connection.</summary>
    public static void PrepareQlogDirectory(string? directory)
    {
        if (directory is null) return;
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new UserFacingException($"--qlog-dir {directory}: {e.Message}", e);
        }
    }
}
