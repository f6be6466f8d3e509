using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using FastRelay.Protocols.CustomUdp.Clients;
using FastRelay.Protocols.CustomUdp.Wire;
using FastRelay.Cli.Startup;

namespace FastRelay.Cli.Commands;

/// <summary>`fastrelay publish`: become a custom-UDP channel's upstream and send paced, verifiable test traffic.</summary>
public static class PublishCommand
{
    /// <summary>The name and the description are constants so that CliRoot can list this command without building
    /// it (a command line names one top-level command; only that one is built, docs/startup.md).</summary>
    public const string Name = "publish";

    public const string Description = "Publish custom-UDP test traffic to a relay (PUBLISH handshake, then paced DATA with send timestamps).";

    public static Command Create()
    {
        var relay = new Option<string>("--relay", "-r") { Description = "Relay address HOST[:PORT] (IPv6: [ADDR]:PORT; port default 7400).", Required = true };
        var channel = new Option<ushort>("--channel", "-c") { Description = "Channel to publish (0..65535).", Required = true };
        var rate = new Option<int>("--rate") { Description = "Packets per second.", DefaultValueFactory = _ => 1000 };
        var size = new Option<int>("--size") { Description = $"Datagram size in bytes, 16-byte header included ({TestPayload.MinPacketSize}..1472 for one IPv4 frame).", DefaultValueFactory = _ => 256 };
        var duration = new Option<double>("--duration", "-d") { Description = "Seconds to stream once accepted.", DefaultValueFactory = _ => 10 };
        var priorities = new Option<string>("--priorities") { Description = "Priority of each packet: 0/N (every N-th 0, others over 1..7), P (all P), or a list like 0,3,7 cycled.", DefaultValueFactory = _ => "0/10" };
        var json = new Option<string?>("--json") { Description = "Also write the report as JSON to FILE, or to stdout with '-' (the summary then goes to stderr)." };

        var command = new Command(Name, Description)
        {
            relay, channel, rate, size, duration, priorities, json,
        };
        command.SetAction((parse, cancellationToken) => ClientCommands.Guard(async () =>
        {
            var rateValue = parse.GetValue(rate);
            var sizeValue = parse.GetValue(size);
            var seconds = parse.GetValue(duration);
            if (rateValue <= 0) throw new UserFacingException("--rate must be > 0 packets/s");
            if (sizeValue < TestPayload.MinPacketSize || sizeValue > CustomUdpWire.MaxDatagramSize)
                throw new UserFacingException($"--size must be {TestPayload.MinPacketSize}..{CustomUdpWire.MaxDatagramSize} bytes");
            if (!(seconds > 0)) throw new UserFacingException("--duration must be > 0 seconds");
            PriorityPattern pattern;
            try { pattern = PriorityPattern.Parse(parse.GetValue(priorities)!); }
            catch (FormatException e) { throw new UserFacingException("--priorities: " + e.Message); }

            var options = new PublisherOptions
            {
                Relay = ClientCommands.ResolveRelay(parse.GetValue(relay)!),
                Channel = parse.GetValue(channel),
                RatePps = rateValue,
                PacketSize = sizeValue,
                Duration = TimeSpan.FromSeconds(seconds),
                Priorities = pattern,
            };
            using var publisher = new Publisher(options);
            var report = await publisher.RunAsync(cancellationToken);
            ClientCommands.Output(report.ToSummary(), report.ToJson(), parse.GetValue(json));
            if (!report.Accepted)
                throw new UserFacingException($"the relay at {options.Relay} did not accept the publisher: {report.Rejection}");
            return 0;
        }));
        return SteadyStateRuntime.Mark(command); // carries traffic: tiered compilation off (docs/startup.md)
    }
}

/// <summary>Shared by `publish` and `subscribe`.</summary>
internal static class ClientCommands
{
    /// <summary>Prints a <see cref="UserFacingException"/> as `fastrelay: message` (exit 1) here, because System.CommandLine's
    /// default exception handler would otherwise print it with a stack trace before Program.cs sees it.</summary>
    public static async Task<int> Guard(Func<Task<int>> action)
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

    public static IPEndPoint ResolveRelay(string text)
    {
        try
        {
            return RelayAddress.Parse(text);
        }
        catch (Exception e) when (e is FormatException or SocketException or ArgumentException)
        {
            throw new UserFacingException($"--relay {text}: {e.Message}", e);
        }
    }

    /// <summary>Summary to stdout (stderr when the JSON goes to stdout), JSON to FILE or stdout.</summary>
    public static void Output(string summary, string json, string? jsonTarget)
    {
        if (jsonTarget == "-")
        {
            Console.Error.WriteLine(summary);
            Console.Out.WriteLine(json);
            return;
        }
        Console.Out.WriteLine(summary);
        if (jsonTarget is null) return;
        try
        {
            File.WriteAllText(jsonTarget, json + Environment.NewLine);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"--json {jsonTarget}: {e.Message}", e);
        }
    }
}
