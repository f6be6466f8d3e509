using System.Text.Json;
using FastRelay.Protocols.Moq.Relay.Status;

namespace FastRelay.Cli.Scenario;

/// <summary>Reads a `moq relay` process's status file, which it rewrites every status interval (the demo, the bench
/// and the MoQ lab tests all watch it).</summary>
public static class MoqRelayStatusFile
{
    /// <summary>The status now; null when the file does not exist yet or is being replaced.</summary>
    public static MoqRelayStatus? TryRead(string path)
    {
        try
        {
            return File.Exists(path) ? MoqRelayStatus.FromJson(File.ReadAllText(path)) : null;
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null; // replaced while read: the next look finds the new one
        }
    }

    /// <summary>Polls until <paramref name="condition"/> holds or <paramref name="timeout"/> passes; returns the last
    /// status read and whether the condition held.</summary>
    public static async Task<(MoqRelayStatus? Status, bool Met)> WaitAsync(string path, Func<MoqRelayStatus, bool> condition, TimeSpan timeout,
        CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        MoqRelayStatus? last = null;
        while (true)
        {
            if (TryRead(path) is { } status)
            {
                last = status;
                if (condition(status)) return (status, true);
            }
            if (DateTime.UtcNow > deadline) return (last, false);
            await Task.Delay(50, cancellationToken);
        }
    }
}
