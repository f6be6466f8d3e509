using System.Security.Cryptography.X509Certificates;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Http3.WebTransport;

namespace FastRelay.Protocols.Moq.Clients;

/// <summary>
/// One client QUIC connection (ALPN moqt-19) with its MoQ session set up: what both tools start with. The URL's
/// authority and path go into SETUP (draft-19 §"Native QUIC"). An https:// URL opens a WebTransport session instead.
/// </summary>
internal static class MoqClientConnection
{
    /// <summary>Subgroup streams a subscriber lets the relay have open at once: one per layer per group in flight, so
    /// the QUIC default of 10 would stall a track with several layers and a few groups in flight.</summary>
    private const int InboundUnidirectionalStreams = 1000;

    public static async Task<MoqSession> ConnectAsync(MoqClientEndpoint endpoint, Publisher.IMoqRequestHandler? handler, CancellationToken cancellationToken)
    {
        X509Certificate2Collection? trusted = null;
        if (endpoint.TrustCertificatePath is { } pem)
        {
            trusted = [];
            trusted.ImportFromPemFile(pem);
        }
        if (endpoint.Url.Transport == MoqUrlTransport.WebTransport)
            return await ConnectWebTransportAsync(endpoint, handler, trusted, cancellationToken).ConfigureAwait(false);
        var options = new QuicClientConnectionOptions
        {
            RemoteEndPoint = await endpoint.Url.ResolveAsync(cancellationToken).ConfigureAwait(false),
            TargetHost = endpoint.Url.Host,
            ApplicationProtocols = [QuicMoqTransport.Alpn],
            SkipCertificateValidation = endpoint.Insecure,
            TrustedCertificates = trusted,
            HandshakeTimeout = endpoint.HandshakeTimeout,
            LoggerFactory = endpoint.LoggerFactory,
            MaxInboundUnidirectionalStreams = InboundUnidirectionalStreams,
            Disable1RttEncryption = endpoint.FastPath,
            FastPathUnidirectionalStreams = endpoint.FastPath,
        };
        QuicConnection connection;
        try
        {
            connection = await QuicConnection.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch (QuicException e)
        {
            throw new MoqClientException($"QUIC connection to {endpoint.Url} failed: {e.Message}", e);
        }
        return await SetUpAsync(new QuicMoqTransport(connection), endpoint, new MoqSessionOptions
        {
            Authority = endpoint.Url.Authority,
            Path = endpoint.Url.PathAndQuery,
            Handler = handler,
            SetupTimeout = endpoint.HandshakeTimeout,
            Implementation = "FastRelay moq client",
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// https://: a WebTransport session (HTTP/3 extended CONNECT, WT-Protocol moqt-19), what a browser opens. Authority
    /// and path travel in the CONNECT, not in SETUP. The connection has full 1-RTT protection (no 0xBAAD, whatever
    /// <see cref="MoqClientEndpoint.FastPath"/> says): a relay's kernel can only reach it through sealed slots.
    /// </summary>
    private static async Task<MoqSession> ConnectWebTransportAsync(MoqClientEndpoint endpoint, Publisher.IMoqRequestHandler? handler,
        X509Certificate2Collection? trusted, CancellationToken cancellationToken)
    {
        WebTransportSession session;
        try
        {
            session = await WebTransportClient.ConnectAsync(endpoint.Url.Uri, new WebTransportClientOptions
            {
                Protocols = [QuicMoqTransport.Alpn],
                RequireProtocol = true,
                SkipCertificateValidation = endpoint.Insecure,
                TrustedCertificates = trusted,
                Timeout = endpoint.HandshakeTimeout,
                LoggerFactory = endpoint.LoggerFactory,
                ConfigureQuic = q => q.MaxInboundUnidirectionalStreams = InboundUnidirectionalStreams,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebTransportException or QuicException)
        {
            throw new MoqClientException($"WebTransport session to {endpoint.Url} failed: {e.Message}", e);
        }
        return await SetUpAsync(new WebTransportMoqTransport(session), endpoint, new MoqSessionOptions
        {
            Handler = handler,
            SetupTimeout = endpoint.HandshakeTimeout,
            Implementation = "FastRelay moq client",
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>MoQ SETUP on a connected transport, within the handshake timeout; the transport goes if it fails.</summary>
    private static async Task<MoqSession> SetUpAsync(IMoqTransport transport, MoqClientEndpoint endpoint, MoqSessionOptions options,
        CancellationToken cancellationToken)
    {
        try
        {
            using var setupTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            setupTimeout.CancelAfter(endpoint.HandshakeTimeout);
            return await MoqSession.ConnectAsync(transport, options, setupTimeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            await transport.DisposeAsync().ConfigureAwait(false);
            throw new MoqClientException($"MoQ SETUP with {endpoint.Url} failed: {e.Message}", e);
        }
    }

    /// <summary>The request parameters every request of ours carries: the AUTHORIZATION TOKEN when one was given.</summary>
    public static MoqMessageParameters Parameters(MoqClientEndpoint endpoint)
    {
        var parameters = new MoqMessageParameters();
        if (endpoint.AuthToken is { } token)
            parameters.AuthorizationTokens.Add(MoqAuthToken.UseValue(0, System.Text.Encoding.UTF8.GetBytes(token)));
        return parameters;
    }

    public static MoqFullTrackName FullName(MoqTrackName track) => new(new MoqTrackNamespace(track.Namespace), track.Name);

    /// <summary>Closes the session (NO_ERROR) and its QUIC connection; errors of a session that already failed are moot.</summary>
    public static async Task DisposeAsync(MoqSession session)
    {
        try { await session.DisposeAsync().ConfigureAwait(false); }
        catch (Exception) { }
        try { await session.Transport.DisposeAsync().ConfigureAwait(false); }
        catch (Exception) { }
    }

    /// <summary>A refusal as the user should read it.</summary>
    public static MoqClientException Refused(string what, MoqTrackName track, Exception e) => e switch
    {
        MoqRequestException r => new MoqClientException($"{what} {track} refused: {r.Code} ({r.Error.Reason})", e),
        MoqSessionClosedException c => new MoqClientException($"{what} {track}: the session closed: {c.Error}", e),
        _ => new MoqClientException($"{what} {track} failed: {e.Message}", e),
    };
}
