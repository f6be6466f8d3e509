using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Http3.WebTransport;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Moq.Relay.FastPath;

/// <summary>A subscriber's unidirectional stream opened for one subgroup: the QUIC stream the kernel maps, and how many
/// bytes of transport framing the opener already wrote at its start (the WebTransport stream header; 0 on raw QUIC).
/// The MoQ subgroup header follows those bytes, so the downstream offsets of the subgroup's data are shifted by them
/// against the upstream's: the kernel's per-stream <c>offset_delta</c> takes that shift with the headers' difference.</summary>
public sealed record FastPathOpenedStream(QuicStream Stream, int FramingLength, Action<ulong> Reset);

/// <summary>
/// How the relay opens a fast-path subscriber's subgroup streams: as plain QUIC streams of a raw-QUIC MoQ session, or as
/// WebTransport streams of a browser's session, whose first bytes (signal value 0x54, session id) the WebTransport layer
/// writes before any MoQ byte. Either way the data after the subgroup header goes on the same QUIC stream with the same
/// stream credit, so the kernel's mapping, flow control and coverage work alike; only the offset shift differs.
/// </summary>
public abstract class FastPathStreamOpener
{
    public abstract ValueTask<FastPathOpenedStream> OpenUnidirectionalAsync(CancellationToken cancellationToken = default);

    /// <summary>Raw QUIC (ALPN moqt-19): the connection's own unidirectional streams.</summary>
    public static FastPathStreamOpener Quic(QuicConnection connection) => new QuicOpener(connection);

    /// <summary>WebTransport: unidirectional streams of <paramref name="session"/> (the MoQ session's transport).</summary>
    public static FastPathStreamOpener WebTransport(WebTransportSession session) => new WebTransportOpener(session);

    private sealed class QuicOpener(QuicConnection connection) : FastPathStreamOpener
    {
        public override async ValueTask<FastPathOpenedStream> OpenUnidirectionalAsync(CancellationToken cancellationToken)
        {
            var stream = await connection.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, cancellationToken).ConfigureAwait(false);
            return new FastPathOpenedStream(stream, 0, code => stream.Abort(QuicAbortDirection.Write, (long)code));
        }
    }

    private sealed class WebTransportOpener(WebTransportSession session) : FastPathStreamOpener
    {
        public override async ValueTask<FastPathOpenedStream> OpenUnidirectionalAsync(CancellationToken cancellationToken)
        {
            // The session tracks the stream (aborted with the session) and has written its header: what it wrote is the
            // two varints WebTransportSession.OpenStreamAsync encodes (signal value, session id).
            var stream = await session.OpenUnidirectionalStreamAsync(cancellationToken).ConfigureAwait(false);
            var framing = QuicVarint.GetLength(WebTransportStreamType.Unidirectional) + QuicVarint.GetLength((ulong)session.SessionId);
            // MoQ's stream reset codes are 32-bit on WebTransport (WebTransportMoqTransport); the stream maps them to HTTP/3.
            return new FastPathOpenedStream(stream.QuicStream, framing, code => stream.Reset((uint)Math.Min(code, uint.MaxValue)));
        }
    }
}
