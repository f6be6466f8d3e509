using System.Diagnostics;
using FastRelay.Protocols.Moq.Relay.Status;

namespace FastRelay.Cli.Moq;

/// <summary>`fastrelay moq status`: the status files of running MoQ relays, as a table or raw JSON.</summary>
public static class MoqRelayStatusPrinter
{
    public static int Print(string directory, string? name, bool json, TextWriter output)
    {
        var files = Directory.Exists(directory)
            ? Directory.GetFiles(directory, "*.json").Order(StringComparer.Ordinal).ToList()
            : [];
        if (name is not null)
            files = files.Where(f => Path.GetFileNameWithoutExtension(f) == name).ToList();
        int printed = 0;
        foreach (var file in files)
        {
            MoqRelayStatus? status;
            try
            {
                status = MoqRelayStatus.FromJson(File.ReadAllText(file));
            }
            catch (Exception e) when (e is IOException or System.Text.Json.JsonException)
            {
                continue;
            }
            if (status is null) continue;
            if (json) output.WriteLine(status.ToJson());
            else Print(status, output);
            printed++;
        }
        if (printed == 0)
        {
            output.WriteLine($"no MoQ relay status found in {directory}" + (name is null ? "" : $" for --name {name}"));
            return 1;
        }
        return 0;
    }

    public static void Print(MoqRelayStatus s, TextWriter output)
    {
        bool alive = IsRunning(s.ProcessId);
        output.WriteLine($"moq relay {s.Name}: pid {s.ProcessId} ({(alive ? "running" : "not running")}), updated {s.Updated:HH:mm:ss}, " +
            $"{string.Join(" ", s.Listening)}{(s.Upstream is null ? "" : ", upstream " + s.Upstream)}{(s.AuthOpen ? ", OPEN (no authorization)" : "")}");
        output.WriteLine($"  {"session",-8} {"transport",-12} {"remote",-24} {"age",7} {"subs",5} {"ns",4} {"pub",4} {"sent",9} {"dropped",8} {"sg-drop",7} {"queued",9}");
        foreach (var x in s.Sessions)
            output.WriteLine($"  {x.Name,-8} {x.Transport,-12} {x.Remote,-24} {x.AgeSeconds,6:0}s {x.Subscriptions,5} {x.PublishedNamespaces,4} {x.PublishedTracks,4} {x.ObjectsSent,9} {x.ObjectsDropped,8} {x.SubgroupsDropped,7} {x.QueuedBytes,9}");
        output.WriteLine($"  {"track",-32} {"state",-7} {"source",-8} {"largest",-12} {"subs",5} {"cache",10} {"groups",6} {"in",9} {"out",9} {"dropped",8}");
        foreach (var t in s.Tracks)
            output.WriteLine($"  {t.Track,-32} {t.State,-7} {t.Source ?? "-",-8} {t.Largest ?? "-",-12} {t.Subscribers,5} {t.CacheBytes,10} {t.CacheGroups,6} {t.ObjectsIn,9} {t.ObjectsOut,9} {t.Dropped,8}");
        var o = s.Totals;
        output.WriteLine($"  totals: sessions {o.SessionsAccepted} (refused {o.SessionsRefused}), subscriptions {o.SubscriptionsAccepted}, upstream subscriptions {o.UpstreamSubscriptions}, " +
            $"fetches {o.FetchesServed}, refused requests {o.RequestsRefused}, cache {o.CacheBytes}/{o.CacheLimitBytes} bytes, objects in {o.ObjectsIn} out {o.ObjectsOut} dropped {o.ObjectsDropped}");
        if (s.FastPath is { } f)
            output.WriteLine($"  kernel fast path: {f.Slots} subscriber slot(s), {f.TappedStreams} subgroup streams tapped, {f.KernelForwardedBytes} bytes forwarded " +
                $"in {f.ForwardedPackets} packets, {f.NotForwardedPackets} not forwarded (left to userspace)");
        if (s.FastPath?.Seal is { } seal)
            output.WriteLine($"  sealed for encrypted subscribers: {seal.Sealed} copies, {seal.TooBig} refused (no room for the tag), {seal.Failed} failed");
        if (s.FastPath?.Subscribers is { Count: > 0 } subscribers)
        {
            output.WriteLine($"  {"fast-path subscriber",-20} {"remote",-24} {"state",-5} {"kernel bytes",12} {"relay bytes",12} {"kernel",7}");
            foreach (var x in subscribers)
                output.WriteLine($"  {x.Session,-20} {x.Remote,-24} {(x.Live ? "live" : "ended"),-5} {x.KernelBytes,12} {x.UserspaceBytes,12} {x.KernelShare,7:P1}");
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
