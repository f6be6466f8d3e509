using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Text;
using FastRelay.Cli.Http;
using Microsoft.Extensions.Logging;

namespace FastRelay.Cli.Metrics;

/// <summary>
/// `--metrics ADDRESS`: serves the System.Diagnostics.Metrics instruments of the meters it is given (one relay's) as
/// Prometheus text (exposition format 0.0.4) on <c>http://ADDRESS/metrics</c> (served by <see cref="LocalHttpHost"/>), plus the process's CPU time. Relays publish observable instruments read from the same
/// snapshots their status files come from, so a scrape costs the hot path nothing: values are taken when Prometheus asks.
/// Counters and up-down counters that are pushed are summed per label set; histograms are not exported.
/// </summary>
public sealed class PrometheusEndpoint : IAsyncDisposable
{
    private readonly MeterListener _meters = new();
    private readonly object _gate = new();
    private readonly Dictionary<(Instrument Instrument, string Labels), double> _pushed = new();
    private readonly Dictionary<(Instrument Instrument, string Labels), double> _observed = new();
    private LocalHttpHost? _http;

    private PrometheusEndpoint(IReadOnlyCollection<Meter> meters)
    {
        // Only the meters given: another relay (or a test) in the same process has its own endpoint.
        _meters.InstrumentPublished = (instrument, listener) =>
        {
            if (meters.Contains(instrument.Meter) && instrument is not Histogram<long> and not Histogram<double>)
                listener.EnableMeasurementEvents(instrument);
        };
        _meters.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _meters.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _meters.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _meters.Start();
    }

    /// <summary>The URL scrapers use.</summary>
    public string Url => _http!.Url;

    /// <summary>Starts serving on <paramref name="address"/>: "PORT", "HOST:PORT" or "[IPv6]:PORT"; host 0.0.0.0 / :: / * means
    /// every address.</summary>
    public static PrometheusEndpoint Start(string address, ILogger log, params Meter[] meters)
    {
        var endpoint = new PrometheusEndpoint(meters);
        try
        {
            endpoint._http = LocalHttpHost.Start("--metrics", address, "/metrics", endpoint.ServeAsync, log);
        }
        catch
        {
            endpoint._meters.Dispose();
            throw;
        }
        log.LogInformation("metrics on {Url}", endpoint.Url);
        return endpoint;
    }

    public static (string Host, int Port) ParseAddress(string address) => LocalHttpHost.ParseAddress("--metrics", address);

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var key = (instrument, Labels(tags));
        lock (_gate)
        {
            if (instrument.IsObservable)
                _observed[key] = value; // observable instruments report their current total or level
            else
                _pushed[key] = _pushed.GetValueOrDefault(key) + value;
        }
    }

    /// <summary>The page Prometheus reads: observable instruments are asked for their values now.</summary>
    public string Scrape()
    {
        lock (_gate)
        {
            _observed.Clear();
            _meters.RecordObservableInstruments(); // runs the callbacks on this thread, into _observed
            var text = new StringBuilder();
            foreach (var series in _observed.Concat(_pushed).GroupBy(e => e.Key.Instrument).OrderBy(g => g.Key.Name, StringComparer.Ordinal))
            {
                var instrument = series.Key;
                var counter = instrument is ObservableCounter<long> or ObservableCounter<int> or ObservableCounter<double>
                    or Counter<long> or Counter<int> or Counter<double>;
                var name = MetricName(instrument.Name);
                if (counter && !name.EndsWith("_total", StringComparison.Ordinal))
                    name += "_total";
                if (instrument.Description is { Length: > 0 } help)
                    text.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n');
                text.Append("# TYPE ").Append(name).Append(counter ? " counter\n" : " gauge\n");
                foreach (var ((_, labels), value) in series.OrderBy(s => s.Key.Labels, StringComparer.Ordinal))
                    text.Append(name).Append(labels).Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
            }
            using var self = Process.GetCurrentProcess();
            text.Append("# HELP fastrelay_process_cpu_seconds_total CPU time of the relay process (user + system).\n")
                .Append("# TYPE fastrelay_process_cpu_seconds_total counter\n")
                .Append("fastrelay_process_cpu_seconds_total ").Append(self.TotalProcessorTime.TotalSeconds.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
            return text.ToString();
        }
    }

    private async Task ServeAsync(HttpListenerContext context)
    {
        var path = context.Request.Url?.AbsolutePath.TrimEnd('/');
        if (context.Request.HttpMethod != "GET" || path != "/metrics")
        {
            context.Response.StatusCode = 404;
            context.Response.Close();
            return;
        }
        var body = Encoding.UTF8.GetBytes(Scrape());
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        context.Response.ContentLength64 = body.Length;
        await context.Response.OutputStream.WriteAsync(body).ConfigureAwait(false);
        context.Response.Close();
    }

    /// <summary>Instrument names use dots ("fastrelay.subscriber.forwarded.packets"); Prometheus wants [a-zA-Z_:][a-zA-Z0-9_:]*.</summary>
    private static string MetricName(string name)
    {
        var chars = name.Select(c => char.IsAsciiLetterOrDigit(c) || c == '_' || c == ':' ? c : '_').ToArray();
        return char.IsAsciiDigit(chars[0]) ? "_" + new string(chars) : new string(chars);
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
            return "";
        var sorted = tags.ToArray().OrderBy(t => t.Key, StringComparer.Ordinal);
        var text = new StringBuilder("{");
        foreach (var (key, value) in sorted)
        {
            if (text.Length > 1)
                text.Append(',');
            var escaped = Convert.ToString(value, CultureInfo.InvariantCulture)?.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
            text.Append(MetricName(key)).Append("=\"").Append(escaped).Append('"');
        }
        return text.Append('}').ToString();
    }

    public async ValueTask DisposeAsync()
    {
        if (_http is not null)
            await _http.DisposeAsync().ConfigureAwait(false);
        _meters.Dispose();
    }
}
