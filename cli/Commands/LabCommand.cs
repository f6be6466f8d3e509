using System.CommandLine;
using FastRelay.Cli.Lab;

namespace FastRelay.Cli.Commands;

/// <summary>`fastrelay lab up|down|list`: the namespace topology used by the demo, the bench and the end-to-end tests.</summary>
public static class LabCommand
{
    /// <summary>The name and the description are constants so that CliRoot can list this command without building
    /// it (a command line names one top-level command; only that one is built, docs/startup.md).</summary>
    public const string Name = "lab";

    public const string Description = "Create or remove the network-namespace lab (publisher, relay, subscribers, bridge).";

    public static Command Create() => new(Name, Description)
    {
        CreateUp(),
        CreateDown(),
        CreateList(),
    };

    private static Command CreateUp()
    {
        var subscribers = new Option<int>("--subscribers", "-n") { Description = "Number of subscriber namespaces.", DefaultValueFactory = _ => 2 };
        var interfaces = new Option<int>("--interfaces", "-i")
        {
            Description = "Relay interfaces: 1 (one shared segment) or 2 (eth0 to the publisher, eth1 to the subscribers' bridge).",
            DefaultValueFactory = _ => 1,
        };
        interfaces.AcceptOnlyFromAmong("1", "2");
        var prefix = new Option<string?>("--prefix", "-p") { Description = "Namespace prefix (default: fr + 4 random hex digits)." };
        var mtu = new Option<int?>("--mtu") { Description = "MTU of every lab link (default: kernel default, 1500)." };
        var json = new Option<bool>("--json") { Description = "Print the topology as JSON." };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print each setup step to stderr." };
        var edgeRelay = new Option<bool>("--edge-relay")
        {
            Description = "Add a second relay host, <prefix>-edge, on the subscribers' segment (.3): a relay chain publisher → relay → edge → subscribers.",
        };
        var command = new Command("up", "Create a lab and print its topology. It stays up until `fastrelay lab down PREFIX`.")
        {
            subscribers, interfaces, prefix, mtu, json, verbose, edgeRelay,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = new LabOptions
            {
                Prefix = parse.GetValue(prefix),
                Subscribers = parse.GetValue(subscribers),
                RelayInterfaces = parse.GetValue(interfaces),
                Mtu = parse.GetValue(mtu),
                EdgeRelay = parse.GetValue(edgeRelay),
                OnStep = parse.GetValue(verbose) ? step => Console.Error.WriteLine("  " + step) : null,
            };
            return await ReportUserErrors(() => UpAsync(options, parse.GetValue(json), Console.Out, cancellationToken));
        });
        return command;
    }

    private static Command CreateDown()
    {
        var prefix = new Argument<string?>("prefix") { Description = "Prefix of the lab to remove.", Arity = ArgumentArity.ZeroOrOne };
        var all = new Option<bool>("--all") { Description = "Remove every lab created by fastrelay (registry records and fr#### namespaces)." };
        var command = new Command("down", "Remove a lab (also one created by another process).") { prefix, all };
        command.SetAction((parse, cancellationToken) =>
            ReportUserErrors(() => DownAsync(parse.GetValue(prefix), parse.GetValue(all), Console.Out, cancellationToken)));
        return command;
    }

    private static Command CreateList()
    {
        var json = new Option<bool>("--json") { Description = "Print the registry records as a JSON array." };
        var command = new Command("list", $"List the labs recorded in {LabRegistry.Directory}.") { json };
        command.SetAction(parse =>
        {
            var records = LabRegistry.Prefixes().Select(LabRegistry.TryLoad).OfType<LabDescription>().ToList();
            if (parse.GetValue(json))
                Console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(records, LabDescription.JsonOptions));
            else if (records.Count == 0)
                Console.Out.WriteLine("no labs");
            else
                foreach (var record in records)
                    Console.Out.WriteLine($"{record.Prefix,-12} {record.State,-9} {record.RelayInterfaces} relay if, {record.Subscribers} subscribers, pid {record.CreatorPid}, {record.CreatedAt:u}");
            return 0;
        });
        return command;
    }

    /// <summary>System.CommandLine's default exception handler catches exceptions thrown by an action before
    /// Program.cs sees them (and prints a stack trace), so lab user errors are reported here, the way Program.cs would.</summary>
    private static async Task<int> ReportUserErrors(Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (UserFacingException e)
        {
            Console.Error.WriteLine("fastrelay: " + e.Message);
            return 1;
        }
    }

    public static async Task<int> UpAsync(LabOptions options, bool json, TextWriter output, CancellationToken cancellationToken)
    {
        try
        {
            // Not disposed: the lab outlives this process until `lab down`.
            var lab = await LabTopology.UpAsync(options, cancellationToken);
            output.WriteLine(json ? lab.Describe().ToJson() : lab.Describe().ToText());
            return 0;
        }
        catch (LabException e)
        {
            throw new UserFacingException(e.Message, e);
        }
    }

    public static async Task<int> DownAsync(string? prefix, bool all, TextWriter output, CancellationToken cancellationToken)
    {
        if (all == (prefix is not null))
            throw new UserFacingException("lab down: give either a PREFIX or --all");
        try
        {
            if (all)
            {
                var removed = await LabTopology.DownAllAsync(cancellationToken);
                output.WriteLine(removed.Count == 0 ? "no labs to remove" : "removed " + string.Join(", ", removed));
                return 0;
            }
            var namespaces = await LabTopology.DownAsync(prefix!, cancellationToken);
            output.WriteLine(namespaces.Count == 0
                ? $"lab {prefix}: no namespaces found (registry record, if any, removed)"
                : $"lab {prefix}: removed {string.Join(", ", namespaces)}");
            return 0;
        }
        catch (LabException e)
        {
            throw new UserFacingException(e.Message, e);
        }
    }
}
