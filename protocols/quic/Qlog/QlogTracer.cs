using System.Text.Json;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Qlog;

/// <summary>
/// qlog writer for one connection: JSON Text Sequences (RFC 7464, ".sqlog": each record is 0x1E, one JSON object, LF),
/// main schema 0.3 with the QUIC event definitions. First record: the header (qlog_format "JSON-SEQ", the trace with
/// vantage point and common fields, relative time); then one record per event with "time" in milliseconds since the
/// first <see cref="AdvanceTime"/>.
/// <para>Records go through a large buffer (the file is written in 64 KiB pieces), flushed when the connection closes
/// and on <see cref="Dispose"/>. An I/O failure ends tracing silently rather than the connection. Not thread-safe; the
/// core's owner serialises calls.</para>
/// </summary>
public sealed class QlogTracer : IConnectionTracer
{
    public const string FileExtension = ".sqlog";
    private const int BufferSize = 1 << 16;
    private const byte RecordSeparator = 0x1E;

    private readonly Stream _output;
    private readonly bool _leaveOpen;
    private readonly Utf8JsonWriter _json;
    private readonly ILogger? _log;
    private byte[] _scratch = new byte[2048];
    private long _origin = long.MinValue;
    private long _now;
    private bool _stopped;
    private bool _disposed;
    // Exponents that scale the raw ACK Delay field: ours for ACKs we send, the peer's for ACKs we receive.
    private int _localAckDelayExponent = (int)TransportParameters.DefaultAckDelayExponent;
    private int _peerAckDelayExponent = (int)TransportParameters.DefaultAckDelayExponent;
    // Last metrics written (µs / bytes); -1 = never written.
    private long _cwnd = -1, _bytesInFlight = -1, _smoothedRtt = -1, _latestRtt = -1, _minRtt = -1, _rttVar = -1;

    /// <summary>Writes the qlog header to <paramref name="output"/> at once.</summary>
    /// <param name="referenceTime">Wall-clock time of relative time 0 (now if null).</param>
    public QlogTracer(Stream output, QuicPerspective perspective, ConnectionId originalDestinationConnectionId, bool leaveOpen = false,
        DateTimeOffset? referenceTime = null, ILogger? log = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        _output = output;
        _leaveOpen = leaveOpen;
        _log = log;
        Perspective = perspective;
        OriginalDestinationConnectionId = originalDestinationConnectionId;
        _json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = false });
        WriteHeader((referenceTime ?? DateTimeOffset.UtcNow).ToUnixTimeMilliseconds());
    }

    public QuicPerspective Perspective { get; }
    public ConnectionId OriginalDestinationConnectionId { get; }
    /// <summary>The file written to, when made by <see cref="Create"/>.</summary>
    public string? FilePath { get; private init; }
    public bool IsEnabled => !_stopped;

    /// <summary>"&lt;ODCID hex&gt;_&lt;client|server&gt;.sqlog".</summary>
    public static string FileNameFor(QuicPerspective perspective, in ConnectionId originalDestinationConnectionId) =>
        $"{Convert.ToHexStringLower(originalDestinationConnectionId.Span)}_{VantagePoint(perspective)}{FileExtension}";

    /// <summary>Creates (or replaces) the connection's file in <paramref name="directory"/>, creating the directory if needed.</summary>
    public static QlogTracer Create(string directory, QuicPerspective perspective, in ConnectionId originalDestinationConnectionId, ILogger? log = null)
    {
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, FileNameFor(perspective, originalDestinationConnectionId));
        var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, BufferSize);
        try
        {
            return new QlogTracer(file, perspective, originalDestinationConnectionId, log: log) { FilePath = path };
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A factory for <see cref="ConnectionSettings.TracerFactory"/>: one file per connection in <paramref name="directory"/>.
    /// A file that cannot be created leaves that connection untraced (logged as a warning) instead of failing it.
    /// </summary>
    public static Func<QuicPerspective, ConnectionId, IConnectionTracer> CreateFactory(string directory, ILogger? log = null) =>
        (perspective, odcid) =>
        {
            try
            {
                return Create(directory, perspective, odcid, log);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                log?.LogWarning("qlog: cannot create a file in {Directory}: {Message}", directory, e.Message);
                return NullConnectionTracer.Instance;
            }
        };

    private static string VantagePoint(QuicPerspective perspective) => perspective == QuicPerspective.Client ? "client" : "server";

    // ---- IConnectionTracer ----

    public void AdvanceTime(long now)
    {
        if (_origin == long.MinValue) _origin = _now = now;
        // The owner may pass times taken on different threads: keep the trace monotonic.
        else if (now > _now) _now = now;
    }

    public void ConnectionStarted(in ConnectionId sourceConnectionId, in ConnectionId destinationConnectionId)
    {
        if (!Begin("connectivity:connection_started")) return;
        _json.WriteString("src_cid", Convert.ToHexStringLower(sourceConnectionId.Span));
        _json.WriteString("dst_cid", Convert.ToHexStringLower(destinationConnectionId.Span));
        _json.WriteString("protocol", "QUIC");
        End();
    }

    public void ParametersSet(bool local, TransportParameters parameters)
    {
        if (local) _localAckDelayExponent = (int)Math.Min(parameters.AckDelayExponent, 20);
        else _peerAckDelayExponent = (int)Math.Min(parameters.AckDelayExponent, 20);
        if (!Begin("transport:parameters_set")) return;
        _json.WriteString("owner", local ? "local" : "remote");
        WriteConnectionId("original_destination_connection_id", parameters.OriginalDestinationConnectionId);
        WriteConnectionId("initial_source_connection_id", parameters.InitialSourceConnectionId);
        WriteConnectionId("retry_source_connection_id", parameters.RetrySourceConnectionId);
        if (parameters.StatelessResetToken is { } token) _json.WriteString("stateless_reset_token", token.ToString("x32"));
        _json.WriteBoolean("disable_active_migration", parameters.DisableActiveMigration);
        _json.WriteNumber("max_idle_timeout", parameters.MaxIdleTimeout);
        _json.WriteNumber("max_udp_payload_size", parameters.MaxUdpPayloadSize);
        _json.WriteNumber("ack_delay_exponent", parameters.AckDelayExponent);
        _json.WriteNumber("max_ack_delay", parameters.MaxAckDelay);
        _json.WriteNumber("active_connection_id_limit", parameters.ActiveConnectionIdLimit);
        _json.WriteNumber("initial_max_data", parameters.InitialMaxData);
        _json.WriteNumber("initial_max_stream_data_bidi_local", parameters.InitialMaxStreamDataBidiLocal);
        _json.WriteNumber("initial_max_stream_data_bidi_remote", parameters.InitialMaxStreamDataBidiRemote);
        _json.WriteNumber("initial_max_stream_data_uni", parameters.InitialMaxStreamDataUni);
        _json.WriteNumber("initial_max_streams_bidi", parameters.InitialMaxStreamsBidi);
        _json.WriteNumber("initial_max_streams_uni", parameters.InitialMaxStreamsUni);
        if (parameters.MaxDatagramFrameSize is { } datagram) _json.WriteNumber("max_datagram_frame_size", datagram);
        // draft-ietf-quic-ack-frequency §3 (µs): present when the endpoint accepts ACK_FREQUENCY and IMMEDIATE_ACK.
        if (parameters.MinAckDelay is { } minAckDelay) _json.WriteNumber("min_ack_delay", minAckDelay);
        // Not a registered qlog field: our extension parameter 0xBAAD (unencrypted 1-RTT).
        _json.WriteBoolean("disable_1rtt_encryption", parameters.Disable1RttEncryption);
        End();
    }

    public void PacketSent(QuicPacketType type, ulong packetNumber, ReadOnlySpan<byte> destinationConnectionId, int length, ReadOnlySpan<byte> payload) =>
        WritePacket("transport:packet_sent", type, packetNumber, destinationConnectionId, length, payload, _localAckDelayExponent);

    public void PacketReceived(QuicPacketType type, ulong packetNumber, ReadOnlySpan<byte> destinationConnectionId, int length, ReadOnlySpan<byte> payload) =>
        WritePacket("transport:packet_received", type, packetNumber, destinationConnectionId, length, payload, _peerAckDelayExponent);

    public void PacketLost(QuicPacketType type, ulong packetNumber)
    {
        if (!Begin("recovery:packet_lost")) return;
        _json.WriteStartObject("header");
        _json.WriteString("packet_type", QlogNames.PacketType(type));
        _json.WriteNumber("packet_number", packetNumber);
        _json.WriteEndObject();
        End();
    }

    public void MetricsUpdated(RttEstimator rtt, ICongestionController congestion)
    {
        if (_stopped) return;
        long cwnd = congestion.CongestionWindow, inFlight = congestion.BytesInFlight;
        bool rttChanged = rtt.HasSample && (rtt.SmoothedRtt != _smoothedRtt || rtt.LatestRtt != _latestRtt || rtt.MinRtt != _minRtt || rtt.RttVar != _rttVar);
        if (!rttChanged && cwnd == _cwnd && inFlight == _bytesInFlight) return;
        if (!Begin("recovery:metrics_updated")) return;
        if (rtt.HasSample)
        {
            WriteChangedMs("min_rtt", rtt.MinRtt, ref _minRtt);
            WriteChangedMs("smoothed_rtt", rtt.SmoothedRtt, ref _smoothedRtt);
            WriteChangedMs("latest_rtt", rtt.LatestRtt, ref _latestRtt);
            WriteChangedMs("rtt_variance", rtt.RttVar, ref _rttVar);
        }
        if (cwnd != _cwnd) _json.WriteNumber("congestion_window", _cwnd = cwnd);
        if (inFlight != _bytesInFlight) _json.WriteNumber("bytes_in_flight", _bytesInFlight = inFlight);
        End();
    }

    public void KeyUpdated(TracedKeyType keyType, ulong generation, KeyUpdateTrigger trigger)
    {
        if (!Begin("security:key_updated")) return;
        _json.WriteString("key_type", QlogNames.KeyType(keyType));
        _json.WriteNumber("generation", generation);
        _json.WriteString("trigger", QlogNames.Trigger(trigger));
        End();
    }

    public void KeyDiscarded(TracedKeyType keyType, ulong generation)
    {
        if (!Begin("security:key_discarded")) return;
        _json.WriteString("key_type", QlogNames.KeyType(keyType));
        _json.WriteNumber("generation", generation);
        _json.WriteString("trigger", "tls");
        End();
    }

    public void ConnectionClosed(in ConnectionCloseInfo info)
    {
        if (!Begin("connectivity:connection_closed")) return;
        _json.WriteString("owner", info.ByPeer ? "remote" : "local");
        if (info.IsApplicationError) _json.WriteNumber("application_code", info.ErrorCode);
        else if (!info.IdleTimeout && !info.StatelessReset && !info.VersionMismatch) _json.WriteNumber("connection_code", info.ErrorCode);
        if (info.Reason.Length > 0) _json.WriteString("reason", info.Reason);
        _json.WriteString("trigger",
            info.IdleTimeout ? "idle_timeout"
            : info.StatelessReset ? "stateless_reset"
            : info.VersionMismatch ? "version_mismatch"
            // An application close says nothing about errors to the transport (HTTP/3 closes with H3_NO_ERROR = 0x100).
            : info.IsApplicationError ? "application"
            : info.ErrorCode == 0 ? "clean"
            : "error");
        End();
        // The end of a connection is when a reader wants the file: do not wait for the buffer to fill.
        Flush();
    }

    public void Flush()
    {
        if (_stopped) return;
        try
        {
            _output.Flush();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException)
        {
            Stop(e);
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Flush();
        _stopped = true;
        _json.Dispose();
        if (!_leaveOpen)
        {
            try { _output.Dispose(); }
            catch (IOException) { } // a failed final flush: nothing left to do
        }
    }

    // ---- records ----

    private void WriteHeader(long referenceTimeMs)
    {
        _output.WriteByte(RecordSeparator);
        _json.WriteStartObject();
        _json.WriteString("qlog_version", "0.3");
        _json.WriteString("qlog_format", "JSON-SEQ");
        _json.WriteString("title", "FastRelay QUIC");
        _json.WriteStartObject("trace");
        _json.WriteStartObject("vantage_point");
        _json.WriteString("name", "fastrelay");
        _json.WriteString("type", VantagePoint(Perspective));
        _json.WriteEndObject();
        _json.WriteStartObject("common_fields");
        _json.WriteString("ODCID", Convert.ToHexStringLower(OriginalDestinationConnectionId.Span));
        _json.WriteString("protocol_type", "QUIC");
        _json.WriteString("time_format", "relative");
        _json.WriteNumber("reference_time", referenceTimeMs);
        _json.WriteEndObject();
        _json.WriteEndObject();
        _json.WriteEndObject();
        _json.Flush();
        _output.WriteByte((byte)'\n');
        _json.Reset();
    }

    private bool Begin(string name)
    {
        if (_stopped) return false;
        _json.WriteStartObject();
        _json.WriteNumber("time", _origin == long.MinValue ? 0.0 : (_now - _origin) / 1000.0);
        _json.WriteString("name", name);
        _json.WriteStartObject("data");
        return true;
    }

    /// <summary>Closes the record and hands it to the buffered stream as RS + JSON + LF.</summary>
    private void End()
    {
        _json.WriteEndObject();
        _json.WriteEndObject();
        try
        {
            // The JSON writer holds the record in memory until Flush; the separator must precede it in the stream.
            _output.WriteByte(RecordSeparator);
            _json.Flush();
            _output.WriteByte((byte)'\n');
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException)
        {
            Stop(e);
        }
        _json.Reset();
    }

    private void Stop(Exception e)
    {
        _stopped = true;
        _log?.LogWarning("qlog: writing failed, tracing stopped: {Message}", e.Message);
    }

    private void WritePacket(string name, QuicPacketType type, ulong packetNumber, ReadOnlySpan<byte> destinationConnectionId, int length,
        ReadOnlySpan<byte> payload, int ackDelayExponent)
    {
        if (!Begin(name)) return;
        _json.WriteStartObject("header");
        _json.WriteString("packet_type", QlogNames.PacketType(type));
        if (QlogNames.HasPacketNumber(type)) _json.WriteNumber("packet_number", packetNumber);
        if (QlogNames.IsLongHeader(type))
        {
            _json.WriteNumber("dcil", destinationConnectionId.Length);
            _json.WriteString("dcid", Convert.ToHexStringLower(destinationConnectionId));
        }
        _json.WriteEndObject();
        _json.WriteStartObject("raw");
        _json.WriteNumber("length", length);
        if (!payload.IsEmpty) _json.WriteNumber("payload_length", payload.Length);
        _json.WriteEndObject();
        if (!payload.IsEmpty)
        {
            // The decoder reads from memory; the core's payload is a span into its datagram, so copy it first.
            if (_scratch.Length < payload.Length) _scratch = new byte[Math.Max(payload.Length, _scratch.Length * 2)];
            payload.CopyTo(_scratch);
            _json.WriteStartArray("frames");
            var writer = new QlogFrameWriter(_json, ackDelayExponent);
            // A payload the decoder rejects (the core closes the connection for it) keeps the frames read before the error.
            FrameDecoder.TryDecode(_scratch.AsMemory(0, payload.Length), type, ref writer, out _, out _, datagramsEnabled: true, ackFrequencyEnabled: true);
            _json.WriteEndArray();
        }
        End();
    }

    private void WriteChangedMs(string name, long micros, ref long last)
    {
        if (micros == last) return;
        last = micros;
        _json.WriteNumber(name, micros / 1000.0);
    }

    private void WriteConnectionId(string name, ConnectionId? id)
    {
        if (id is { } value) _json.WriteString(name, Convert.ToHexStringLower(value.Span));
    }
}
