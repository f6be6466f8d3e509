using Xunit;
using FastRelay.Bpf;
using Microsoft.Extensions.Logging;

namespace FastRelay.Tests.Runtime;

[Collection(BpfCollection.Name)]
public sealed class LibBpfLogTests(CompiledFixtures fixtures)
{
    [BpfFact]
    public void Libbpf_messages_reach_the_configured_logger()
    {
        var sink = new ListLoggerFactory();
        LibBpfLog.Use(sink);
        try
        {
            using var obj = BpfObject.Open(fixtures.Object(CompiledFixtures.Rejected));
            Assert.Throws<BpfLoadException>(() => obj.Load());
        }
        finally
        {
            LibBpfLog.Use(null);
        }

        Assert.Equal([LibBpfLog.Category], sink.Categories.Distinct());
        Assert.Contains(sink.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("prog 'fx_out_of_bounds'"));
    }

    [BpfFact]
    public void Without_a_logger_messages_are_captured_in_recent()
    {
        LibBpfLog.Use(null);
        using var obj = BpfObject.Open(fixtures.Object(CompiledFixtures.Rejected));
        Assert.Throws<BpfLoadException>(() => obj.Load());
        Assert.Contains(LibBpfLog.Recent, m => m.Contains("fx_out_of_bounds"));
    }

    private sealed class ListLoggerFactory : ILoggerFactory, ILogger
    {
        public List<string> Categories { get; } = [];
        public List<(LogLevel Level, string Message)> Entries { get; } = [];

        public ILogger CreateLogger(string categoryName)
        {
            Categories.Add(categoryName);
            return this;
        }

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Entries) Entries.Add((logLevel, formatter(state, exception)));
        }

        public bool IsEnabled(LogLevel logLevel) => true;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public void AddProvider(ILoggerProvider provider) { }
        public void Dispose() { }
    }
}
