using System.Text.Json;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Protocols.Quic.Qlog;

/// <summary>
/// Writes each frame of a packet as a qlog QuicFrame object into an open JSON array. Frame details for ACK, STREAM,
/// CRYPTO, CONNECTION_CLOSE, ACK_FREQUENCY and the flow-control frames; the type name alone where the content does not help a reader
/// (PING, HANDSHAKE_DONE, ...). Data bytes are never written (qlog keeps lengths, not payloads).
/// </summary>
internal readonly struct QlogFrameWriter(Utf8JsonWriter json, int ackDelayExponent) : IQuicFrameHandler
{
    private QuicError Simple(string type)
    {
        json.WriteStartObject();
        json.WriteString("frame_type", type);
        json.WriteEndObject();
        return default;
    }

    private void Start(string type)
    {
        json.WriteStartObject();
        json.WriteString("frame_type", type);
    }

    public QuicError OnPadding(in PaddingFrame frame)
    {
        Start("padding");
        json.WriteNumber("length", frame.Length);
        json.WriteNumber("payload_length", frame.Length);
        json.WriteEndObject();
        return default;
    }

    public QuicError OnPing(in PingFrame frame) => Simple("ping");

    public QuicError OnAck(in AckFrame frame)
    {
        Start("ack");
        // The raw field counts units of 2^ack_delay_exponent µs of the sender (RFC 9000 §19.3); qlog wants ms.
        json.WriteNumber("ack_delay", (double)(frame.AckDelay << Math.Min(ackDelayExponent, 20)) / 1000.0);
        json.WriteStartArray("acked_ranges");
        foreach (var range in frame.GetRanges())
        {
            json.WriteStartArray();
            json.WriteNumberValue(range.Smallest);
            json.WriteNumberValue(range.Largest);
            json.WriteEndArray();
        }
        json.WriteEndArray();
        if (frame.Ecn is { } ecn)
        {
            json.WriteNumber("ect0", ecn.Ect0);
            json.WriteNumber("ect1", ecn.Ect1);
            json.WriteNumber("ce", ecn.EcnCe);
        }
        json.WriteEndObject();
        return default;
    }

    public QuicError OnResetStream(in ResetStreamFrame frame)
    {
        Start("reset_stream");
        json.WriteNumber("stream_id", frame.StreamId);
        json.WriteNumber("error_code", frame.ApplicationErrorCode);
        json.WriteNumber("final_size", frame.FinalSize);
        json.WriteEndObject();
        return default;
    }

    public QuicError OnStopSending(in StopSendingFrame frame)
    {
        Start("stop_sending");
        json.WriteNumber("stream_id", frame.StreamId);
        json.WriteNumber("error_code", frame.ApplicationErrorCode);
        json.WriteEndObject();
        return default;
    }

    public QuicError OnCrypto(in CryptoFrame frame)
    {
        Start("crypto");
        json.WriteNumber("offset", frame.Offset);
        json.WriteNumber("length", frame.Data.Length);
        json.WriteEndObject();
        return default;
    }

    public QuicError OnNewToken(in NewTokenFrame frame)
    {
        Start("new_token");
        json.WriteNumber("length", frame.Token.Length);
        json.WriteEndObject();
        return default;
    }

    public QuicError OnStream(in StreamFrame frame)
    {
        Start("stream");
        json.WriteNumber("stream_id", frame.StreamId);
        json.WriteNumber("offset", frame.Offset);
        json.WriteNumber("length", frame.Data.Length);
        json.WriteBoolean("fin", frame.Fin);
        json.WriteEndObject();
        return default;
    }

    public QuicError OnMaxData(in MaxDataFrame frame)
    {
        Start("max_data");
        json.WriteNumber("maximum", frame.MaximumData);
        json.WriteEndObject();
        return default;
    }

    public QuicError OnMaxStreamData(in MaxStreamDataFrame frame)
    {
        Start("max_stream_data");
        json.WriteNumber("stream_id", frame.StreamId);
        json.WriteNumber("maximum", frame.MaximumStreamData);
        json.WriteEndObject();
        return default;
    }

    public QuicError OnMaxStreams(in MaxStreamsFrame frame)
    {
        Start("max_streams");
        json.WriteString("stream_type", frame.Bidirectional ? "bidirectional" : "unidirectional");
        json.WriteNumber("maximum", frame.MaximumStreams);
        json.WriteEndObject();
        return default;
    }

    public QuicError OnDataBlocked(in DataBlockedFrame frame)
    {
        Start("data_blocked");
        json.WriteNumber("limit", frame.MaximumData);
        json.WriteEndObject();
        return default;
    }

    public QuicError OnStreamDataBlocked(in StreamDataBlockedFrame frame)
    {
        Start("stream_data_blocked");
        json.WriteNumber("stream_id", frame.StreamId);
        json.WriteNumber("limit", frame.MaximumStreamData);
        json.WriteEndObject();
        return default;
    }

    public QuicError OnStreamsBlocked(in StreamsBlockedFrame frame)
    {
        Start("streams_blocked");
        json.WriteString("stream_type", frame.Bidirectional ? "bidirectional" : "unidirectional");
        json.WriteNumber("limit", frame.MaximumStreams);
        json.WriteEndObject();
        return default;
    }

    public QuicError OnNewConnectionId(in NewConnectionIdFrame frame)
    {
        Start("new_connection_id");
        json.WriteNumber("sequence_number", frame.SequenceNumber);
        json.WriteNumber("retire_prior_to", frame.RetirePriorTo);
        json.WriteNumber("connection_id_length", frame.ConnectionId.Length);
        json.WriteString("connection_id", Convert.ToHexStringLower(frame.ConnectionId.Span));
        json.WriteEndObject();
        return default;
    }

    public QuicError OnRetireConnectionId(in RetireConnectionIdFrame frame)
    {
        Start("retire_connection_id");
        json.WriteNumber("sequence_number", frame.SequenceNumber);
        json.WriteEndObject();
        return default;
    }

    public QuicError OnPathChallenge(in PathChallengeFrame frame) => Simple("path_challenge");
    public QuicError OnPathResponse(in PathResponseFrame frame) => Simple("path_response");

    public QuicError OnConnectionClose(in ConnectionCloseFrame frame)
    {
        Start("connection_close");
        json.WriteString("error_space", frame.IsApplicationError ? "application" : "transport");
        json.WriteNumber("error_code", frame.ErrorCode);
        json.WriteNumber("raw_error_code", frame.ErrorCode);
        json.WriteString("reason", System.Text.Encoding.UTF8.GetString(frame.ReasonPhrase.Span));
        if (!frame.IsApplicationError) json.WriteNumber("trigger_frame_type", frame.TriggeringFrameType);
        json.WriteEndObject();
        return default;
    }

    public QuicError OnHandshakeDone(in HandshakeDoneFrame frame) => Simple("handshake_done");

    public QuicError OnDatagram(in DatagramFrame frame)
    {
        Start("datagram");
        json.WriteNumber("length", frame.Data.Length);
        json.WriteEndObject();
        return default;
    }

    // draft-ietf-quic-ack-frequency §4, §5; field names as the qlog ack-frequency event definitions spell them.
    public QuicError OnAckFrequency(in AckFrequencyFrame frame)
    {
        Start("ack_frequency");
        json.WriteNumber("sequence_number", frame.SequenceNumber);
        json.WriteNumber("ack_eliciting_threshold", frame.AckElicitingThreshold);
        json.WriteNumber("request_max_ack_delay", frame.RequestedMaxAckDelay / 1000.0);
        json.WriteNumber("reordering_threshold", frame.ReorderingThreshold);
        json.WriteEndObject();
        return default;
    }

    public QuicError OnImmediateAck(in ImmediateAckFrame frame) => Simple("immediate_ack");
}
