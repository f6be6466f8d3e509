using Microsoft.Extensions.Logging;

namespace FastRelay.Cli.Startup;

/// <summary>
/// An <see cref="ILoggerFactory"/> that answers <see cref="ILogger.IsEnabled"/> from the level rules alone and builds
/// the real factory (<see cref="CliLogging.CreateConsole"/>) on the first message that passes them. Building the console
/// logger loads Microsoft.Extensions.DependencyInjection, Options, Configuration and the console formatters; a client
/// running at its quiet level (Warning) normally logs nothing, so it never pays for that. Scopes are not forwarded: the
/// console set-up does not print them.
/// </summary>
public sealed class DeferredLoggerFactory(Func<string, LogLevel> minimumLevel, Func<ILoggerFactory> create) : ILoggerFactory
{
    private readonly Lock _gate = new();
    private ILoggerFactory? _factory;
    private bool _disposed;

    /// <summary>Whether the real factory has been built (a message passed the level filter, or a provider was added).</summary>
    public bool IsCreated => Volatile.Read(ref _factory) is not null;

    public ILogger CreateLogger(string categoryName) => new DeferredLogger(this, categoryName, minimumLevel(categoryName));

    public void AddProvider(ILoggerProvider provider) =>
        (Factory() ?? throw new ObjectDisposedException(nameof(DeferredLoggerFactory))).AddProvider(provider);

    /// <summary>The real factory, built on first use; null once this one is disposed without ever having built it
    /// (a message after the command's logging ended has nowhere to go, as with a disposed factory).</summary>
    private ILoggerFactory? Factory()
    {
        if (Volatile.Read(ref _factory) is { } built)
            return built;
        lock (_gate)
            return _disposed ? _factory : _factory ??= create();
    }

    /// <summary>Disposes the real factory if it was built, which flushes the console logger's queue.</summary>
    public void Dispose()
    {
        ILoggerFactory? factory;
        lock (_gate)
        {
            _disposed = true;
            factory = _factory;
        }
        factory?.Dispose();
    }

    private sealed class DeferredLogger(DeferredLoggerFactory owner, string category, LogLevel minimum) : ILogger
    {
        private ILogger? _logger;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
                return;
            var logger = Volatile.Read(ref _logger);
            if (logger is null)
            {
                if (owner.Factory() is not { } factory)
                    return;
                logger = factory.CreateLogger(category);
                Volatile.Write(ref _logger, logger);
            }
            logger.Log(logLevel, eventId, state, exception, formatter);
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    }
}
