using System.CommandLine;
using FastRelay.Cli.Startup;
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
    public DeferredLoggerFactory Create(ParseResult parse, LogLevel quiet = LogLevel.Information) =>
        Create(parse.GetValue(Verbose), parse.GetValue(Format), quiet);

    /// <summary>The QUIC stack's categories: kept to warnings unless -v (it logs per connection).</summary>
    public const string QuicCategoryPrefix = "FastRelay.Protocols.Quic";

    /// <summary>The factory a command logs through. The console logger behind it (dependency injection, options,
    /// configuration binding: a dozen assemblies and a few hundred JIT-compiled generic instantiations, most of a
    /// client's start-up before its first packet) is built on the first message that passes the level filter: a client
    /// at its quiet level usually never builds it (docs/startup.md).</summary>
    public static DeferredLoggerFactory Create(bool verbose, LogFormat format, LogLevel quiet = LogLevel.Information) =>
        new(category => MinimumLevel(category, verbose, quiet), () => CreateConsole(verbose, format, quiet));

    /// <summary>The lowest level that reaches the console for <paramref name="category"/>: the rules
    /// <see cref="CreateConsole"/> gives Microsoft.Extensions.Logging (whose filter rules match category prefixes,
    /// ignoring case).</summary>
    public static LogLevel MinimumLevel(string category, bool verbose, LogLevel quiet) =>
        verbose ? LogLevel.Debug
        : category.StartsWith(QuicCategoryPrefix, StringComparison.OrdinalIgnoreCase) ? LogLevel.Warning
        : quiet;

    /// <summary>The console logger itself, built at once.</summary>
    public static ILoggerFactory CreateConsole(bool verbose, LogFormat format, LogLevel quiet = LogLevel.Information) => LoggerFactory.Create(b =>
    {
        if (format == LogFormat.Json)
            b.AddJsonConsole(o => { o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ"; o.UseUtcTimestamp = true; });
        else
            b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        b.SetMinimumLevel(verbose ? LogLevel.Debug : quiet);
        b.AddFilter(QuicCategoryPrefix, verbose ? LogLevel.Debug : LogLevel.Warning);
    });
}
