using System.Buffers;
using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Http3.Qpack;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Http3.WebTransport;

/// <summary>How <see cref="WebTransportClient.ConnectAsync"/> connects.</summary>
public sealed class WebTransportClientOptions
{
    /// <summary>Offered in WT-Available-Protocols, most preferred first; empty: no negotiation.</summary>
    public IReadOnlyList<string> Protocols { get; init; } = [];
    /// <summary>Fail (WT_ALPN_ERROR) when the server answers without one of <see cref="Protocols"/>.</summary>
    public bool RequireProtocol { get; init; }
    /// <summary>Origin header (browsers always send one; optional elsewhere).</summary>
    public string? Origin { get; init; }
    /// <summary>Further request header fields (lower-case names).</summary>
    public IReadOnlyList<HttpField> Headers { get; init; } = [];
    /// <summary>The :protocol token: <c>webtransport</c> (what Chromium sends) or the editors' copy's <c>webtransport-h3</c>.</summary>
    public string UpgradeToken { get; init; } = "webtransport";
    public X509Certificate2Collection? TrustedCertificates { get; init; }
    public bool SkipCertificateValidation { get; init; }
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
    public string? QlogDirectory { get; init; }
    public ILoggerFactory? LoggerFactory { get; init; }
    /// <summary>Last say over the QUIC options (stream limits, windows, idle timeout) before connecting.</summary>
    public Action<QuicClientConnectionOptions>? ConfigureQuic { get; init; }
}

/// <summary>
/// WebTransport over HTTP/3 client on our QUIC and HTTP/3 pieces: one QUIC connection per session (ALPN h3, DATAGRAM),
/// our SETTINGS, the server's SETTINGS checked for WebTransport support, then the extended CONNECT. The session owns the
/// connection: disposing the session closes both.
/// </summary>
public static class WebTransportClient
{
    /// <summary>Opens a session to <paramref name="url"/> (https://host:port/path). A refusal throws
    /// <see cref="WebTransportException"/> (SessionRefused with the status, or ProtocolError).</summary>
    public static async Task<WebTransportSession> ConnectAsync(Uri url, WebTransportClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new WebTransportClientOptions();
        if (url.Scheme != "https") throw new ArgumentException("WebTransport URLs are https://", nameof(url));
        var logger = options.LoggerFactory?.CreateLogger("FastRelay.WebTransport.Client");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Timeout);
        var quicOptions = new QuicClientConnectionOptions
        {
            RemoteEndPoint = new DnsEndPoint(url.IdnHost, url.Port),
            ApplicationProtocols = [WebTransportServer.Alpn],
            MaxDatagramFrameSize = WebTransportSettings.MaxDatagramFrameSize,
            TrustedCertificates = options.TrustedCertificates,
            SkipCertificateValidation = options.SkipCertificateValidation,
            QlogDirectory = options.QlogDirectory,
            LoggerFactory = options.LoggerFactory,
            HandshakeTimeout = options.Timeout,
        };
        options.ConfigureQuic?.Invoke(quicOptions);
        var quic = await QuicConnection.ConnectAsync(quicOptions, timeout.Token).ConfigureAwait(false);
        var wt = new WebTransportConnection(quic, isServer: false, WebTransportSettings.ForClient(), logger, maxBufferedStreams: 16,
            maxBufferedDatagrams: 32, onRequestStream: null, ownsConnection: true);
        try
        {
            await wt.StartAsync(timeout.Token).ConfigureAwait(false);
            // Draft §3.1: no CONNECT before the server's SETTINGS said it speaks WebTransport.
            var settings = await wt.Control.PeerSettings.WaitAsync(timeout.Token).ConfigureAwait(false);
            if (WebTransportSettings.MissingOnServer(settings) is { } missing)
                throw new WebTransportException(WebTransportErrorKind.ProtocolError, $"the server does not offer WebTransport: {missing}");
            if (quic.MaxDatagramPayload == 0)
                throw new WebTransportException(WebTransportErrorKind.ProtocolError, "the server does not take QUIC DATAGRAM frames");
            return await OpenSessionAsync(wt, url, options, logger, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            try
            {
                await quic.CloseAsync(e is WebTransportException { Kind: WebTransportErrorKind.ProtocolError }
                    ? WebTransportHttp3Error.RequirementsNotMet : (long)Http3ErrorCode.NoError).ConfigureAwait(false);
            }
            catch (Exception close) when (close is QuicException or ObjectDisposedException or InvalidOperationException)
            {
            }
            await quic.DisposeAsync().ConfigureAwait(false);
            if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
                throw new WebTransportException(WebTransportErrorKind.ProtocolError, $"no WebTransport session with {url} within {options.Timeout.TotalSeconds:0.#} s", inner: e);
            if (e is QuicException or Http3Exception)
                throw new WebTransportException(WebTransportErrorKind.ProtocolError, $"connecting to {url}: {e.Message}", inner: e);
            throw;
        }
    }

    private static async Task<WebTransportSession> OpenSessionAsync(WebTransportConnection wt, Uri url, WebTransportClientOptions options, ILogger? logger,
        CancellationToken cancellationToken)
    {
        var stream = await wt.Quic.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, cancellationToken).ConfigureAwait(false);
        var http3Stream = wt.Http3.Wrap(stream);
        string authority = url.IsDefaultPort ? url.IdnHost : $"{url.IdnHost}:{url.Port.ToString(CultureInfo.InvariantCulture)}";
        var fields = new List<HttpField>
        {
            new(":method", "CONNECT"), new(":protocol", options.UpgradeToken), new(":scheme", "https"),
            new(":authority", authority), new(":path", url.PathAndQuery),
            new("sec-webtransport-http3-draft02", "1"),
        };
        if (options.Protocols.Count > 0)
            fields.Add(new HttpField("wt-available-protocols", StructuredFieldStrings.SerializeList(options.Protocols)));
        if (options.Origin is { } origin)
            fields.Add(new HttpField("origin", origin));
        fields.AddRange(options.Headers);
        var request = new ArrayBufferWriter<byte>(128);
        Http3FrameCodec.WriteFrame(request, (ulong)Http3FrameType.Headers, QpackEncoder.Encode(fields));
        await http3Stream.WriteAsync(request.WrittenMemory, completeWrites: false, cancellationToken).ConfigureAwait(false);

        var reader = new Http3StreamReader(http3Stream);
        var head = await ReadResponseHeadAsync(reader, cancellationToken).ConfigureAwait(false);
        var requestRecord = new Http3Request("CONNECT", "https", authority, url.PathAndQuery, fields.Where(f => !f.Name.StartsWith(':')).ToList())
        {
            Protocol = options.UpgradeToken,
        };
        if (head.Status is < 200 or >= 300)
        {
            stream.Abort(QuicAbortDirection.Both, (long)Http3ErrorCode.NoError);
            throw new WebTransportException(WebTransportErrorKind.SessionRefused, $"the server refused the session with status {head.Status}", statusCode: head.Status);
        }
        string? protocol = null;
        foreach (var field in head.Headers)
            if (field.Name == "wt-protocol" && StructuredFieldStrings.TryParseItem(field.Value, out var item))
                protocol = item;
        // Draft §3.3: the answer must be one we offered; a required negotiation without an answer fails the same way.
        if (protocol is not null && !options.Protocols.Contains(protocol) || protocol is null && options.RequireProtocol)
        {
            stream.Abort(QuicAbortDirection.Both, WebTransportHttp3Error.AlpnError);
            throw new WebTransportException(WebTransportErrorKind.ProtocolError,
                protocol is null ? "the server chose no application protocol" : $"the server chose '{protocol}', which we did not offer",
                http3ErrorCode: WebTransportHttp3Error.AlpnError);
        }
        var session = new WebTransportSession(wt, stream, reader, requestRecord, protocol, logger);
        wt.AddSession(session);
        _ = session.RunConnectStreamAsync(wt.Lifetime);
        logger?.LogDebug("session {Id} to {Url} established, protocol {Protocol}", session.SessionId, url, protocol);
        return session;
    }

    private static async Task<Http3ResponseHead> ReadResponseHeadAsync(Http3StreamReader reader, CancellationToken cancellationToken)
    {
        while (true)
        {
            var frame = await reader.ReadFrameHeaderAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new WebTransportException(WebTransportErrorKind.ProtocolError, "the CONNECT stream ended without a response");
            switch (frame.Type)
            {
                case (ulong)Http3FrameType.Headers:
                    var fields = await reader.ReadFieldSectionAsync(frame.Length, cancellationToken).ConfigureAwait(false);
                    if (!Http3Message.TryValidateResponse(fields, out var head, out var error))
                        throw new WebTransportException(WebTransportErrorKind.ProtocolError, $"malformed response: {error}");
                    if (head.Status < 200)
                        continue; // interim
                    return head;
                case (ulong)Http3FrameType.Data:
                    throw new WebTransportException(WebTransportErrorKind.ProtocolError, "DATA before the response HEADERS");
                default:
                    await reader.SkipAsync(frame.Length, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
    }
}
