using System.CommandLine;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FastRelay.Cli.Relay;

namespace FastRelay.Cli.Commands;

/// <summary>
/// `fastrelay relay ctl list|add|remove|budget|counters`: the generic relay's control API (`relay --control`) from the
/// command line. The API is found by `--control ADDRESS --token-file F`, or by `--name NAME` from the relay's status
/// file (which records both). Output is a readable summary, or the API's JSON with `--json`.
/// </summary>
public static class RelayCtlCommand
{
    private sealed class Common
    {
        public readonly Option<string?> Control = new("--control") { Description = "The relay's control API: PORT, HOST:PORT or http://HOST:PORT (as given to `relay --control`)." };
        public readonly Option<string?> TokenFile = new("--token-file") { Description = "File holding the API's bearer token (the relay's --control-token-file, or the NAME.control-token it wrote)." };
        public readonly Option<string?> Name = new("--name") { Description = "Find --control and --token-file in the status file of the relay with this instance name (/run/fastrelay/NAME.json)." };
        public readonly Option<bool> Json = new("--json") { Description = "Print the API's JSON answer instead of a summary." };

        public void AddTo(Command command)
        {
            command.Add(Control);
            command.Add(TokenFile);
            command.Add(Name);
            command.Add(Json);
        }
    }

    private sealed class Target
    {
        public readonly Option<ulong> Channel = new("--channel", "-c") { Description = "The channel's id (its [Channel] value; 0 without one).", DefaultValueFactory = _ => 0 };
        public readonly Option<string> Address = new("--address") { Description = "The subscriber's ADDRESS:PORT ([v6]:PORT).", Required = true };

        public void AddTo(Command command)
        {
            command.Add(Channel);
            command.Add(Address);
        }
    }

    private sealed class Budget
    {
        public readonly Option<long?> Rate = new("--rate") { Description = "Budget refill in bytes per second (descriptors with PriorityDrop)." };
        public readonly Option<long?> Burst = new("--burst") { Description = "The most the budget holds, in bytes (with --rate)." };
        public readonly Option<uint?> Reserve = new("--reserve-per-level") { Description = "Bytes kept in reserve per urgency level above 0 (default 0)." };
        public readonly Option<uint?> DropFrom = new("--drop-from-level") { Description = "Urgency levels from this one on are always dropped (default: none)." };

        public void AddTo(Command command)
        {
            command.Add(Rate);
            command.Add(Burst);
            command.Add(Reserve);
            command.Add(DropFrom);
        }

        /// <summary>The config file's "budget" object, or null when no budget option was given.</summary>
        public JsonObject? ToJson(ParseResult parse)
        {
            var (rate, burst, reserve, dropFrom) = (parse.GetValue(Rate), parse.GetValue(Burst), parse.GetValue(Reserve), parse.GetValue(DropFrom));
            if (rate is null && burst is null && reserve is null && dropFrom is null)
                return null;
            // Missing keys go to the relay, which names them: one place checks budgets, for the file and the API.
            var budget = new JsonObject();
            if (rate is not null) budget["bytesPerSecond"] = rate;
            if (burst is not null) budget["burstBytes"] = burst;
            if (reserve is not null) budget["reservePerLevel"] = reserve;
            if (dropFrom is not null) budget["dropFromLevel"] = dropFrom;
            return budget;
        }
    }

    public static Command Create()
    {
        var ctl = new Command("ctl", "Control a running generic relay (`relay --assembly ... --control ADDRESS`): list, add, remove, budget, counters.");
        ctl.Add(List());
        ctl.Add(Add());
        ctl.Add(Remove());
        ctl.Add(SetBudget());
        ctl.Add(Counters());
        return ctl;
    }

    private static Command List()
    {
        var common = new Common();
        var command = new Command("list", "List the relay's channels and subscribers (owner, slot, counters, budget).");
        common.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var answer = await CallAsync(parse, common, HttpMethod.Get, "channels", null, ct);
            if (parse.GetValue(common.Json))
                Console.WriteLine(answer);
            else
                PrintChannels(Console.Out, JsonSerializer.Deserialize(answer, RelayControlJson.Default.ControlChannels)!);
            return 0;
        });
        return command;
    }

    private static Command Counters()
    {
        var common = new Common();
        var command = new Command("counters", "Print the relay's counters: per subscriber, and the kernel's (or the copy loop's).");
        common.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var answer = await CallAsync(parse, common, HttpMethod.Get, "counters", null, ct);
            if (parse.GetValue(common.Json))
                Console.WriteLine(answer);
            else
                JsonSerializer.Deserialize(answer, RelayControlJson.Default.GenericRelayStatus)!.Print(Console.Out, running: true);
            return 0;
        });
        return command;
    }

    private static Command Add()
    {
        var common = new Common();
        var target = new Target();
        var budget = new Budget();
        var label = new Option<string?>("--label") { Description = "A name for the subscriber in status output." };
        var connectionId = new Option<string?>("--connection-id") { Description = "Hex connection id written into its copies (descriptors with [ConnectionId])." };
        var command = new Command("add", "Add a subscriber to a channel of the configuration file; it stays until `ctl remove` (a reload keeps it) or the relay stops.");
        common.AddTo(command);
        target.AddTo(command);
        command.Add(label);
        command.Add(connectionId);
        budget.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            // The body is the configuration file's subscriber entry: the relay reads both with one parser.
            var entry = new JsonObject { ["address"] = parse.GetValue(target.Address) };
            if (parse.GetValue(label) is { } name) entry["name"] = name;
            if (parse.GetValue(connectionId) is { } cid) entry["connectionId"] = cid;
            if (budget.ToJson(parse) is { } b) entry["budget"] = b;
            var channel = parse.GetValue(target.Channel);
            var answer = await CallAsync(parse, common, HttpMethod.Post, $"channels/{channel}/subscribers", entry.ToJsonString(), ct);
            PrintSubscriberAnswer(parse, common, answer, "added to");
            return 0;
        });
        return command;
    }

    private static Command Remove()
    {
        var common = new Common();
        var target = new Target();
        var command = new Command("remove", "Remove a subscriber added with `ctl add` (the file's subscribers are removed by editing the file).");
        common.AddTo(command);
        target.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var answer = await CallAsync(parse, common, HttpMethod.Delete, SubscriberPath(parse, target), null, ct);
            Console.WriteLine(parse.GetValue(common.Json) ? answer : JsonSerializer.Deserialize(answer, RelayControlJson.Default.ControlResult)!.Result);
            return 0;
        });
        return command;
    }

    private static Command SetBudget()
    {
        var common = new Common();
        var target = new Target();
        var budget = new Budget();
        var clear = new Option<bool>("--clear") { Description = "Remove the subscriber's budget (no priority drop for it)." };
        var command = new Command("budget", "Set (--rate/--burst) or clear (--clear) the byte budget of a subscriber added with `ctl add`.");
        common.AddTo(command);
        target.AddTo(command);
        budget.AddTo(command);
        command.Add(clear);
        command.SetAction(async (parse, ct) =>
        {
            var body = budget.ToJson(parse);
            if (body is null == !parse.GetValue(clear))
                throw new UserFacingException("relay ctl budget: give --rate and --burst (and optionally --reserve-per-level, --drop-from-level), or --clear");
            var answer = await CallAsync(parse, common, HttpMethod.Put, SubscriberPath(parse, target) + "/budget", body?.ToJsonString() ?? "null", ct); // null clears it
            PrintSubscriberAnswer(parse, common, answer, "budget set in");
            return 0;
        });
        return command;
    }

    private static string SubscriberPath(ParseResult parse, Target target) =>
        $"channels/{parse.GetValue(target.Channel)}/subscribers/{Uri.EscapeDataString(parse.GetValue(target.Address)!)}";

    private static void PrintSubscriberAnswer(ParseResult parse, Common common, string answer, string verb)
    {
        if (parse.GetValue(common.Json))
        {
            Console.WriteLine(answer);
            return;
        }
        var s = JsonSerializer.Deserialize(answer, RelayControlJson.Default.GenericSubscriberStatus)!;
        Console.WriteLine($"{s.Address} {verb} channel {s.Channel}: " + (s.Slot >= 0 ? $"slot {s.Slot}" : $"waiting ({s.Problem})") +
                          (s.Budget is { } b ? $", budget {b.BytesPerSecond} B/s burst {b.BurstBytes} B" : ", no budget"));
    }

    /// <summary>One request; a refusal becomes an error naming the field the relay said is at fault.</summary>
    private static async Task<string> CallAsync(ParseResult parse, Common common, HttpMethod method, string path, string? body, CancellationToken ct)
    {
        var (baseUrl, token) = Locate(parse, common);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(method, $"{baseUrl}/{path}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, ct);
        }
        catch (HttpRequestException e)
        {
            throw new UserFacingException($"no control API at {baseUrl}: {e.Message} (is the relay running with --control?)", e);
        }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            if (response.IsSuccessStatusCode)
                return text;
            ControlError? error = null;
            try
            {
                error = JsonSerializer.Deserialize(text, RelayControlJson.Default.ControlError);
            }
            catch (JsonException)
            {
            }
            throw new UserFacingException(error is null
                ? $"{method} {baseUrl}/{path}: HTTP {(int)response.StatusCode}"
                : $"{error.Error} (HTTP {(int)response.StatusCode}, field {error.Field})");
        }
    }

    /// <summary>The API's base URL and token: from --control and --token-file, or from the named relay's status file.</summary>
    private static (string BaseUrl, string Token) Locate(ParseResult parse, Common common)
    {
        var control = parse.GetValue(common.Control);
        var tokenFile = parse.GetValue(common.TokenFile);
        if (parse.GetValue(common.Name) is { } name)
        {
            var statusFile = RelayCommand.StatusFile(name);
            GenericRelayStatus? status = null;
            try
            {
                var json = File.ReadAllText(statusFile);
                status = GenericRelayStatus.IsGeneric(json) ? GenericRelayStatus.FromJson(json) : null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
            {
                throw new UserFacingException($"--name {name}: cannot read {statusFile}: {e.Message} (is the relay running?)", e);
            }
            if (status?.Control is not { } found)
                throw new UserFacingException($"--name {name}: {statusFile} shows no control API (run the relay with --control ADDRESS)");
            control ??= found.Url;
            tokenFile ??= found.TokenFile;
        }
        if (control is null || tokenFile is null)
            throw new UserFacingException("relay ctl: give --control ADDRESS and --token-file FILE, or --name NAME of a running relay");
        var baseUrl = control.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ? control.TrimEnd('/') : BaseUrl(control);
        if (!baseUrl.EndsWith(RelayControlApi.PathPrefix, StringComparison.Ordinal))
            baseUrl += RelayControlApi.PathPrefix;
        return (baseUrl, RelayControlApi.ReadTokenFile(tokenFile, "--token-file"));
    }

    private static string BaseUrl(string address)
    {
        var (host, port) = Http.LocalHttpHost.ParseAddress("--control", address);
        if (host is "0.0.0.0" or "*")
            host = "127.0.0.1";
        else if (host is "::" or "[::]")
            host = "[::1]";
        return $"http://{host}:{port}";
    }

    public static void PrintChannels(TextWriter output, ControlChannels channels)
    {
        output.WriteLine($"relay {channels.Name} ({channels.Protocol}, {channels.Mode})");
        foreach (var channel in channels.Channels)
        {
            output.WriteLine($"  channel {channel.Id}: upstream {channel.Upstream ?? "any sender"}, {channel.Subscribers.Count} subscribers");
            if (channel.Subscribers.Count == 0)
                continue;
            output.WriteLine($"    {"slot",4} {"subscriber",-24} {"name",-14} {"owner",-5} {"forwarded",10} {"bytes",12} {"budget-drop",11}  budget");
            foreach (var s in channel.Subscribers)
                output.WriteLine($"    {(s.Slot < 0 ? "-" : s.Slot.ToString()),4} {s.Address,-24} {(s.Name == s.Address ? "" : s.Name),-14} {s.Owner,-5} {s.Forwarded,10} {s.ForwardedBytes,12} {s.DroppedByBudget,11}  " +
                                 (s.Budget is { } b ? $"{b.BytesPerSecond} B/s, burst {b.BurstBytes}" : "-") + (s.Problem is null ? "" : $"  waiting: {s.Problem}"));
        }
    }
}
