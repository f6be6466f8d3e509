using System.CommandLine;
using Microsoft.Extensions.Logging;

namespace FastRelay.Cli;

/// <summary>How a command's log lines look: one line of text each (default) or one JSON object each (log shippers).</summary>
public enum LogFormat
{
    Text,
    Json,
}

/// <summary>
/// One logging setup for every long-running command: `-v/--verbose` and `--log-format text|json`, console output with
/// millisecond timestamps, and the QUIC stack kept to warnings unless `-v` (it logs per connection). Each command gets its
/// own option instances (an option belongs to one command) from <see cref="AddTo"/>.
/// </summary>
public sealed class CliLogging
{
    public Option<bool> Verbose { get; }

    public Option<LogFormat> Format { get; } = new("--log-format")
    {
        Description = "Log lines as text (default) or one JSON object per line.",
        DefaultValueFactory = _ => LogFormat.Text,
    };

    private CliLogging(string verboseDescription) =>
        Verbose = new Option<bool>("--verbose", "-v") { Description = verboseDescription };

    /// <summary>Adds -v and --log-format to <paramref name="command"/>.</summary>
    public static CliLogging AddTo(Command command, string verboseDescription = "Debug logging.")
    {
        var logging = new CliLogging(verboseDescription);
        command.Add(logging.Verbose);
        command.Add(logging.Format);
        return logging;
    }

    /// <param name="quiet">The level without -v: Information for servers and relays (start-up, peers), Warning for clients.</param>
    public ILoggerFactory Create(ParseResult parse, LogLevel quiet = LogLevel.Information) =>
        Create(parse.GetValue(Verbose), parse.GetValue(Format), quiet);

    public static ILoggerFactory Create(bool verbose, LogFormat format, LogLevel quiet = LogLevel.Information) => LoggerFactory.Create(b =>
    {
        if (format == LogFormat.Json)
            b.AddJsonConsole(o => { o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ"; o.UseUtcTimestamp = true; });
        else
            b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        b.SetMinimumLevel(verbose ? LogLevel.Debug : quiet);
        b.AddFilter("FastRelay.Protocols.Quic", verbose ? LogLevel.Debug : LogLevel.Warning);
    });
}
