using System.CommandLine;
using FastRelay.Cli;
using CliWrap.Buffered;
using Xunit;

namespace FastRelay.Tests.Cli;

/// <summary>One logging setup across commands: every command that logs takes -v and --log-format text|json.</summary>
public class CliLoggingTests
{
    private static IEnumerable<Command> All(Command command) => command.Subcommands.SelectMany(c => All(c).Prepend(c));

    [Fact]
    public void Every_command_with_verbose_logging_also_takes_a_log_format()
    {
        var commands = All(CliRoot.Create()).ToList();
        var logging = commands.Where(c => c.Options.Any(o => o.Name == "--log-format")).Select(c => c.Name).ToList();

        // The relays and the QUIC/MoQ clients and servers log through Microsoft.Extensions.Logging.
        Assert.Superset(new HashSet<string> { "relay", "get", "serve", "publish", "subscribe" }, logging.ToHashSet());
        foreach (var command in commands.Where(c => c.Options.Any(o => o.Name == "--log-format")))
            Assert.Contains(command.Options, o => o.Name == "--verbose" && o.Aliases.Contains("-v"));
        Assert.Equal(2, commands.Count(c => c.Name == "relay" && c.Options.Any(o => o.Name == "--log-format"))); // custom-UDP and MoQ
    }

    [Fact]
    public void The_log_format_is_text_by_default_json_on_request_and_anything_else_is_a_parse_error()
    {
        var root = CliRoot.Create();
        var serve = All(root).Single(c => c.Name == "serve");
        var format = (Option<LogFormat>)serve.Options.Single(o => o.Name == "--log-format");

        Assert.Equal(LogFormat.Text, root.Parse(["quic", "serve"]).GetValue(format));
        Assert.Equal(LogFormat.Json, root.Parse(["quic", "serve", "--log-format", "json"]).GetValue(format));
        Assert.NotEmpty(root.Parse(["quic", "serve", "--log-format", "xml"]).Errors);
        using var quiet = CliLogging.Create(verbose: false, LogFormat.Text, Microsoft.Extensions.Logging.LogLevel.Warning);
        Assert.False(quiet.CreateLogger("t").IsEnabled(Microsoft.Extensions.Logging.LogLevel.Information));
        Assert.False(CliLogging.Create(false, LogFormat.Text).CreateLogger("FastRelay.Protocols.Quic.Api.QuicConnection").IsEnabled(Microsoft.Extensions.Logging.LogLevel.Information));
    }

    [Fact]
    public async Task With_log_format_json_a_command_logs_one_json_object_per_line()
    {
        // A real process (the console logger writes from its own thread): `moq relay` without authorization logs a warning
        // that it runs open, then stops on SIGTERM.
        var root = Directory.CreateTempSubdirectory("fastrelay-logjson-").FullName;
        try
        {
            var result = await CliWrap.Cli.Wrap("timeout").WithArguments(["-s", "TERM", "4", "dotnet", FastRelay.Cli.Scenario.RelayScenario.FastRelayDll,
                    "moq", "relay", "--port", "0", "--status-dir", root, "--name", "logjson", "--log-format", "json"])
                .WithValidation(CliWrap.CommandResultValidation.None).ExecuteBufferedAsync();
            var lines = (result.StandardOutput + result.StandardError).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Where(l => l.StartsWith('{')).ToList();
            Assert.True(lines.Count > 0, result.StandardOutput + result.StandardError);
            foreach (var line in lines)
            {
                var entry = System.Text.Json.JsonDocument.Parse(line).RootElement;
                Assert.True(entry.TryGetProperty("LogLevel", out _) && entry.TryGetProperty("Category", out _) && entry.TryGetProperty("Timestamp", out _), line);
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
