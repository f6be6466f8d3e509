using FastRelay.Protocols.Quic.Qlog;
using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Tls.Handshake;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Connection;

// Tracing (qlog): what the core tells its IConnectionTracer. Kept in Qlog/ so the core's files carry one-line calls only.
// Every helper returns at once for the null tracer; nothing here allocates unless a real tracer is installed.
public sealed partial class QuicConnectionCore
{
    private IConnectionTracer _tracer = NullConnectionTracer.Instance;
    private bool _traceClosedLogged;

    /// <summary>The tracer this connection reports to (the null tracer unless settings gave a factory).</summary>
    public IConnectionTracer Tracer => _tracer;

    /// <summary>
    /// Flushes the trace; with <paramref name="complete"/> also ends it (the owner will drive this core no further,
    /// e.g. its endpoint is gone before the connection reached Closed).
    /// </summary>
    public void FlushTrace(bool complete)
    {
        if (complete) EndTrace();
        else _tracer.Flush();
    }

    /// <summary>Once the factories set every local parameter: open the trace, log the start, our parameters, Initial keys.</summary>
    private void TraceStart(long now)
    {
        if (_settings.TracerFactory is not { } factory) return;
        // The id both ends agree on: the client's first destination id, from before any Retry (the server's
        // original_destination_connection_id parameter; the client's own first choice).
        var odcid = _localParameters.OriginalDestinationConnectionId ?? _originalDestination;
        _tracer = factory(_settings.Perspective, odcid) ?? NullConnectionTracer.Instance;
        if (!_tracer.IsEnabled) return;
        _tracer.AdvanceTime(now);
        _tracer.ConnectionStarted(_cids.InitialLocal, _cids.Destination);
        _tracer.ParametersSet(true, _localParameters);
        _tracer.KeyUpdated(TracedKeyType.ClientInitialSecret, 0, KeyUpdateTrigger.Tls);
        _tracer.KeyUpdated(TracedKeyType.ServerInitialSecret, 0, KeyUpdateTrigger.Tls);
    }

    private static QuicPacketType PacketTypeOf(PacketNumberSpace space) => space switch
    {
        PacketNumberSpace.Initial => QuicPacketType.Initial,
        PacketNumberSpace.Handshake => QuicPacketType.Handshake,
        _ => QuicPacketType.OneRtt,
    };

    /// <summary>Before sealing: the payload is still plaintext in the datagram.</summary>
    private void TracePacketSent(Span<byte> datagram, in PendingPacket packet, PacketNumberSpace space)
    {
        if (!_tracer.IsEnabled) return;
        int length = packet.HeaderLength + packet.PayloadLength + TagLengthFor(packet);
        if (_externalNumbering && _sealedSlot is null && space == PacketNumberSpace.ApplicationData)
        {
            // The kernel gives the wire number later: the event waits for it (ConfirmPacketNumber), qlog shows wire numbers.
            _awaitingTrace[(uint)packet.Record.PacketNumber] = datagram.Slice(packet.Start + packet.HeaderLength, packet.PayloadLength).ToArray();
            return;
        }
        _tracer.PacketSent(PacketTypeOf(space), packet.Record.PacketNumber, _cids.Destination.Span, length,
            datagram.Slice(packet.Start + packet.HeaderLength, packet.PayloadLength));
    }

    /// <summary>After decryption (in place) and duplicate detection, before the frames act.</summary>
    private void TracePacketReceived(in PacketHeader header, ReadOnlySpan<byte> packet, ulong packetNumber, int payloadOffset, int payloadLength)
    {
        if (!_tracer.IsEnabled) return;
        _tracer.PacketReceived(header.Type, packetNumber, header.DestinationConnectionId.Span, packet.Length, packet.Slice(payloadOffset, payloadLength));
    }

    /// <summary>Retry and Version Negotiation: no packet number, no frames.</summary>
    private void TracePacketReceived(in PacketHeader header, int length)
    {
        if (!_tracer.IsEnabled) return;
        _tracer.PacketReceived(header.Type, 0, header.DestinationConnectionId.Span, length, default);
    }

    private void TracePacketLost(SentPacket packet) => _tracer.PacketLost(PacketTypeOf(packet.Space), packet.PacketNumber);

    /// <summary>TLS installed both directions of an encryption level.</summary>
    private void TraceKeysInstalled(EncryptionLevel level)
    {
        if (!_tracer.IsEnabled) return;
        var (client, server) = KeyTypesOf((PacketNumberSpace)level);
        _tracer.KeyUpdated(client, 0, KeyUpdateTrigger.Tls);
        _tracer.KeyUpdated(server, 0, KeyUpdateTrigger.Tls);
    }

    /// <summary>A 1-RTT key update: our write keys (<paramref name="write"/>) or the peer's (our read keys).</summary>
    private void TraceKeyUpdate(bool write, ulong generation, bool remote)
    {
        if (!_tracer.IsEnabled) return;
        bool clientKey = write == _isClient;
        _tracer.KeyUpdated(clientKey ? TracedKeyType.Client1RttSecret : TracedKeyType.Server1RttSecret, generation,
            remote ? KeyUpdateTrigger.RemoteUpdate : KeyUpdateTrigger.LocalUpdate);
    }

    private void TraceKeysDiscarded(PacketNumberSpace space)
    {
        if (!_tracer.IsEnabled || space == PacketNumberSpace.ApplicationData) return;
        var (client, server) = KeyTypesOf(space);
        _tracer.KeyDiscarded(client, 0);
        _tracer.KeyDiscarded(server, 0);
    }

    private static (TracedKeyType Client, TracedKeyType Server) KeyTypesOf(PacketNumberSpace space) => space switch
    {
        PacketNumberSpace.Initial => (TracedKeyType.ClientInitialSecret, TracedKeyType.ServerInitialSecret),
        PacketNumberSpace.Handshake => (TracedKeyType.ClientHandshakeSecret, TracedKeyType.ServerHandshakeSecret),
        _ => (TracedKeyType.Client1RttSecret, TracedKeyType.Server1RttSecret),
    };

    /// <summary>Logs connection_closed once, with <see cref="CloseInfo"/> (closing, draining or closed, whichever comes first).</summary>
    private void TraceConnectionClosed(long now)
    {
        if (_traceClosedLogged || !_tracer.IsEnabled || CloseInfo is not { } info) return;
        _traceClosedLogged = true;
        _tracer.AdvanceTime(now);
        _tracer.ConnectionClosed(info);
    }

    /// <summary>The connection is over: log why if not yet done, then flush and close the trace.</summary>
    private void EndTrace()
    {
        if (ReferenceEquals(_tracer, NullConnectionTracer.Instance)) return;
        if (!_traceClosedLogged && CloseInfo is { } info)
        {
            _traceClosedLogged = true;
            _tracer.ConnectionClosed(info);
        }
        _tracer.Dispose();
        _tracer = NullConnectionTracer.Instance;
    }
}
