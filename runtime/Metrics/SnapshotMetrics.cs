using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace FastRelay.Metrics;

/// <summary>
/// A relay's metrics as System.Diagnostics.Metrics observable instruments over one status snapshot: the snapshot (the same
/// one a status file is written from) is read only when a listener asks (a Prometheus scrape), and one read serves every
/// instrument of that scrape, so the forwarding path pays nothing and a scrape sees one consistent picture. Dispose removes
/// the instruments.
/// </summary>
public sealed class SnapshotMetrics<TStatus> : IDisposable where TStatus : class
{
    private static readonly TimeSpan OneScrape = TimeSpan.FromMilliseconds(100);

    private readonly Meter _meter;
    private readonly Func<TStatus> _read;
    private readonly object _gate = new();
    private (long Taken, TStatus Status)? _snapshot;

    public SnapshotMetrics(string meterName, Func<TStatus> read)
    {
        _meter = new Meter(meterName);
        _read = read;
    }

    /// <summary>The meter an exporter listens to.</summary>
    public Meter Meter => _meter;

    public TStatus Current()
    {
        lock (_gate)
        {
            var now = Stopwatch.GetTimestamp();
            if (_snapshot is { } s && Stopwatch.GetElapsedTime(s.Taken, now) < OneScrape)
                return s.Status;
            var status = _read();
            _snapshot = (now, status);
            return status;
        }
    }

    /// <summary>A monotonic total (Prometheus adds `_total`).</summary>
    public void Counter(string name, string description, Func<TStatus, IEnumerable<Measurement<long>>> measure) =>
        _meter.CreateObservableCounter(name, () => measure(Current()), description: description);

    /// <summary>A level that goes up and down.</summary>
    public void Gauge(string name, string description, Func<TStatus, IEnumerable<Measurement<long>>> measure) =>
        _meter.CreateObservableGauge(name, () => measure(Current()), description: description);

    public void Gauge(string name, string description, Func<TStatus, IEnumerable<Measurement<double>>> measure) =>
        _meter.CreateObservableGauge(name, () => measure(Current()), description: description);

    public static Measurement<long> M(long value, params (string Key, object? Value)[] labels) => new(value, Labels(labels));

    public static Measurement<double> M(double value, params (string Key, object? Value)[] labels) => new(value, Labels(labels));

    private static KeyValuePair<string, object?>[] Labels((string Key, object? Value)[] labels) =>
        labels.Select(l => new KeyValuePair<string, object?>(l.Key, l.Value)).ToArray();

    public void Dispose() => _meter.Dispose();
}
