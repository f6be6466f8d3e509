using System.CommandLine;
using System.Diagnostics;
using FastRelay.Cli.Relay;
using FastRelay.Protocols.CustomUdp.Relay;

namespace FastRelay.Cli.Commands;

/// <summary>`fastrelay status`: what the running relays report: mode, channels, subscribers and their counters.</summary>
public static class StatusCommand
{
    /// <summary>The name and the description are constants so that CliRoot can list this command without building
    /// it (a command line names one top-level command; only that one is built, docs/startup.md).</summary>
    public const string Name = "status";

    public const string Description = "Show running relays: mode, attached programs' counters, subscribers.";

    public static Command Create()
    {
        var name = new Option<string?>("--name") { Description = "Only this relay instance." };
        var json = new Option<bool>("--json") { Description = "Print the raw status JSON." };
        var command = new Command(Name, Description) { name, json };
        command.SetAction(parse =>
        {
            var files = Directory.Exists(RelayCommand.StatusDirectory)
                ? Directory.GetFiles(RelayCommand.StatusDirectory, "*.json").Order(StringComparer.Ordinal).ToList()
                : new List<string>();
            if (parse.GetValue(name) is { } only)
                files = files.Where(f => Path.GetFileNameWithoutExtension(f) == only).ToList();
            if (files.Count == 0)
            {
                Console.WriteLine("no relay status found in " + RelayCommand.StatusDirectory);
                return 1;
            }
            foreach (var file in files)
            {
                var text = File.ReadAllText(file);
                if (GenericRelayStatus.IsGeneric(text))
                {
                    // A generic host (relay --assembly/--project) writes its own format.
                    var generic = GenericRelayStatus.FromJson(text);
                    if (parse.GetValue(json))
                        Console.WriteLine(generic?.ToJson());
                    else
                        generic?.Print(Console.Out, IsRunning(generic.ProcessId));
                    continue;
                }
                var status = RelayStatus.FromJson(text);
                if (status is null)
                    continue;
                if (parse.GetValue(json))
                    Console.WriteLine(status.ToJson());
                else
                    Print(status);
            }
            return 0;
        });
        return command;
    }

    private static void Print(RelayStatus s)
    {
        var alive = IsRunning(s.ProcessId);
        Console.WriteLine($"relay {s.Name}: {s.Mode}, UDP {s.Port}, pid {s.ProcessId} ({(alive ? "running" : "not running")}), updated {s.Updated:HH:mm:ss}");
        foreach (var a in s.Attachments ?? [])
            Console.WriteLine($"  attached: {a}");
        foreach (var c in s.Channels)
            Console.WriteLine($"  channel {c.Channel}: upstream {c.Upstream ?? "-"}, {c.Subscribers} subscribers, {c.UpstreamPackets} upstream packets");
        Console.WriteLine($"  {"slot",4} {"subscriber",-28} {"ch",4} {"forwarded",10} {"budget-drop",11} {"repaired",9} {"silent",7}");
        foreach (var sub in s.Subscribers)
            Console.WriteLine($"  {sub.Slot,4} {sub.Endpoint,-28} {sub.Channel,4} {sub.Forwarded,10} {sub.DroppedByBudget,11} {sub.Repaired,9} {sub.SilentSeconds,6:0.0}s");
        var t = s.Totals;
        Console.WriteLine($"  totals: upstream {t.UpstreamPackets}, accepted {t.Accepted}, refused {t.Refused}, removed {t.Removed}, repaired {t.Repaired}, foreign data {t.ForeignData}, malformed {t.Malformed}");
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
