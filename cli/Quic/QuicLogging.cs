using Microsoft.Extensions.Logging;

namespace FastRelay.Cli.Quic;

internal static class QuicLogging
{
    public static ILoggerFactory Create(bool verbose) => LoggerFactory.Create(b => b
        .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; })
        .SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Warning));
}
