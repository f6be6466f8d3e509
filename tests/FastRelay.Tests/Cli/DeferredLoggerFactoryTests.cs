using FastRelay.Cli;
using FastRelay.Cli.Startup;
using Microsoft.Extensions.Logging;
using Xunit;

namespace FastRelay.Tests.Cli;

/// <summary>The commands' logger factory builds the console logger only when a message passes the level filter
/// (docs/startup.md): it must filter exactly as the console logger it stands for, and build it on the first message.</summary>
public sealed class DeferredLoggerFactoryTests
{
    private static readonly string[] Categories =
    [
        "quic-get", "FastRelay.Protocols.Quic.Api.QuicConnection", "fastrelay.protocols.quic.x", "FastRelay.Protocols.QuicLike",
        "FastRelay.Protocols.Moq.Relay.MoqRelay", "FastRelay.Protocols", "",
    ];

    public static TheoryData<bool, LogLevel> Setups => new()
    {
        { false, LogLevel.Information }, { false, LogLevel.Warning }, { true, LogLevel.Information }, { true, LogLevel.Warning },
    };

    [Theory]
    [MemberData(nameof(Setups))]
    public void Its_loggers_are_enabled_for_exactly_the_levels_the_console_logger_is(bool verbose, LogLevel quiet)
    {
        using var console = CliLogging.CreateConsole(verbose, LogFormat.Text, quiet);
        using var deferred = CliLogging.Create(verbose, LogFormat.Text, quiet);
        foreach (var category in Categories)
            foreach (var level in Enum.GetValues<LogLevel>())
                Assert.True(console.CreateLogger(category).IsEnabled(level) == deferred.CreateLogger(category).IsEnabled(level),
                    $"{category} at {level} (verbose {verbose}, quiet level {quiet})");
        Assert.False(deferred.IsCreated);
    }

    [Fact]
    public void Messages_below_the_level_build_nothing_and_the_first_one_above_builds_the_logger_and_arrives()
    {
        var provider = new CapturingProvider();
        int built = 0;
        using var factory = new DeferredLoggerFactory(_ => LogLevel.Warning, () =>
        {
            built++;
            var real = new LoggerFactory();
            real.AddProvider(provider);
            return real;
        });
        var logger = factory.CreateLogger("quic-get");

        logger.LogInformation("not shown");
        logger.LogDebug("not shown either");
        Assert.False(factory.IsCreated);

        logger.LogWarning("shown {Number}", 1);
        factory.CreateLogger("other").LogError("also shown");
        logger.LogInformation("still not shown");

        Assert.True(factory.IsCreated);
        Assert.Equal(1, built);
        Assert.Equal(["quic-get: shown 1", "other: also shown"], provider.Messages);
    }

    [Fact]
    public void A_message_after_dispose_builds_nothing()
    {
        var factory = new DeferredLoggerFactory(_ => LogLevel.Information, () => throw new InvalidOperationException("built after dispose"));
        var logger = factory.CreateLogger("t");
        factory.Dispose();

        logger.LogWarning("too late");

        Assert.False(factory.IsCreated);
    }

    private sealed class CapturingProvider : ILoggerProvider
    {
        public List<string> Messages { get; } = [];

        public ILogger CreateLogger(string categoryName) => new Capturing(this, categoryName);

        public void Dispose() { }

        private sealed class Capturing(CapturingProvider owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (owner.Messages) owner.Messages.Add($"{category}: {formatter(state, exception)}");
            }
        }
    }
}
