using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Subscriber;
using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using FastRelay.Protocols.Moq.Wire.Messages;

namespace FastRelay.Protocols.Moq.Session;

/// <summary>
/// One MoQ draft-19 session over an <see cref="IMoqTransport"/>: the SETUP exchange on a pair of unidirectional control
/// streams, request streams (one bidirectional stream per request), data streams and datagrams, GOAWAY and termination.
/// Both roles live on the same object: the subscriber methods (<see cref="SubscribeAsync"/>, <see cref="FetchAsync"/>, ...)
/// and the publisher methods (<see cref="PublishAsync"/>, <see cref="PublishNamespaceAsync"/>); the peer's requests go
/// to <see cref="MoqSessionOptions.Handler"/>. A peer that breaks the protocol gets the draft's error code and the
/// session closes; no exception escapes to the caller except from the awaited methods it called.
/// </summary>
public sealed partial class MoqSession : IAsyncDisposable
{
    private readonly IMoqTransport _transport;
    private readonly MoqSessionOptions _options;
    private readonly CancellationTokenSource _cts = new();
    private readonly TaskCompletionSource<MoqSetupOptions> _peerSetup = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<MoqError> _terminated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<MoqGoAway> _goAwayReceived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _controlWriteLock = new(1, 1);
    private readonly MoqRequestIdTracker _peerRequestIds;
    private readonly object _lock = new();
    private IMoqStream? _controlOut;
    private long _nextRequestId;
    private int _peerControlStreamSeen;
    private int _earlyStreams, _inboundRequests, _inboundDataStreams;
    private bool _goAwaySent;

    private MoqSession(IMoqTransport transport, MoqSessionOptions options, bool isClient)
    {
        _transport = transport;
        _options = options;
        IsClient = isClient;
        _nextRequestId = isClient ? 0 : 1;
        _peerRequestIds = new MoqRequestIdTracker(peerIsClient: !isClient);
        _bufferBudget = new MoqBufferBudget(options.MaxBufferedBytes);
    }

    /// <summary>True on the side that opened the connection (it uses even Request IDs).</summary>
    public bool IsClient { get; }

    public IMoqTransport Transport => _transport;
    public MoqSessionOptions Options => _options;

    /// <summary>The peer's Setup Options (available once Connect/Accept returned).</summary>
    public MoqSetupOptions PeerSetup => _peerSetup.Task.IsCompletedSuccessfully ? _peerSetup.Task.Result : throw new InvalidOperationException("SETUP not received yet");

    /// <summary>Completes with the termination code when the session ends (NoError for a clean close).</summary>
    public Task<MoqError> Terminated => _terminated.Task;

    /// <summary>Completes when the peer sent GOAWAY on the control stream; new requests should go elsewhere.</summary>
    public Task<MoqGoAway> GoAwayReceived => _goAwayReceived.Task;

    internal CancellationToken SessionToken => _cts.Token;

    /// <summary>Client side: sends SETUP, waits for the server's. The transport must be connected with ALPN moqt-19.</summary>
    public static Task<MoqSession> ConnectAsync(IMoqTransport transport, MoqSessionOptions? options = null, CancellationToken cancellationToken = default) =>
        StartAsync(transport, options ?? new MoqSessionOptions(), isClient: true, cancellationToken);

    /// <summary>Server side: sends SETUP, waits for the client's.</summary>
    public static Task<MoqSession> AcceptAsync(IMoqTransport transport, MoqSessionOptions? options = null, CancellationToken cancellationToken = default) =>
        StartAsync(transport, options ?? new MoqSessionOptions(), isClient: false, cancellationToken);

    private static async Task<MoqSession> StartAsync(IMoqTransport transport, MoqSessionOptions options, bool isClient, CancellationToken cancellationToken)
    {
        var session = new MoqSession(transport, options, isClient);
        _ = session.AcceptLoopAsync();
        _ = session.DatagramLoopAsync();
        _ = transport.Closing.ContinueWith(_ => session.OnTransportGone(), TaskScheduler.Default);
        try
        {
            session._controlOut = await transport.OpenStreamAsync(bidirectional: false, cancellationToken).ConfigureAwait(false);
            session._controlOut.SendPriority = int.MinValue; // control first (§"Priorities")
            // SETUP's message type (0x2F00) is also the control stream's type: writing the message opens the stream.
            await session.WriteControlAsync(new MoqSetup(session.BuildSetupOptions()), cancellationToken).ConfigureAwait(false);
            await session._peerSetup.Task.WaitAsync(options.SetupTimeout, cancellationToken).ConfigureAwait(false);
            return session;
        }
        catch (TimeoutException)
        {
            await session.CloseAsync(MoqSessionError.ControlMessageTimeout, "no SETUP from the peer").ConfigureAwait(false);
            throw new MoqSessionClosedException(new MoqError(MoqSessionError.ControlMessageTimeout, "no SETUP from the peer"));
        }
        catch (Exception) when (session._terminated.Task.IsCompleted)
        {
            throw new MoqSessionClosedException(session._terminated.Task.Result);
        }
        catch (Exception)
        {
            // Cancelled by the caller or the transport failed: leave nothing running behind.
            await session.CloseAsync(MoqSessionError.InternalError, "session setup abandoned").ConfigureAwait(false);
            throw;
        }
    }

    private MoqSetupOptions BuildSetupOptions()
    {
        var o = new MoqSetupOptions
        {
            Implementation = _options.Implementation,
            MaxRequestUpdates = _options.MaxRequestUpdates,
            MaxFilterRanges = _options.MaxFilterRanges > 0 ? _options.MaxFilterRanges : null,
            AuthorizationTokens = _options.SetupAuthorizationTokens.ToList(),
        };
        // PATH and AUTHORITY are the client's, and only on native QUIC (WebTransport has them in its URL).
        if (IsClient && _transport.Kind == MoqTransportKind.Quic)
        {
            o.Path = _options.Path;
            o.Authority = _options.Authority;
        }
        return o;
    }

    /// <summary>Next Request ID of ours: client 0, 2, 4...; server 1, 3, 5...</summary>
    internal ulong AllocateRequestId()
    {
        ThrowIfUnusable();
        return (ulong)(Interlocked.Add(ref _nextRequestId, 2) - 2);
    }

    /// <summary>A Request ID for REQUEST_UPDATE: allowed after GOAWAY (it starts nothing new), not after the end.</summary>
    internal ulong AllocateUpdateRequestId()
    {
        if (_terminated.Task.IsCompleted) throw new MoqSessionClosedException(_terminated.Task.Result);
        return (ulong)(Interlocked.Add(ref _nextRequestId, 2) - 2);
    }

    private void ThrowIfUnusable()
    {
        if (_terminated.Task.IsCompleted) throw new MoqSessionClosedException(_terminated.Task.Result);
        if (_goAwayReceived.Task.IsCompleted) throw new InvalidOperationException("the peer sent GOAWAY: start new requests on another session");
    }

    private async Task WriteControlAsync(MoqControlMessage message, CancellationToken cancellationToken)
    {
        byte[] bytes = message.Encode();
        await _controlWriteLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try { await _controlOut!.WriteAsync(bytes, false, cancellationToken).ConfigureAwait(false); }
        finally { _controlWriteLock.Release(); }
    }

    /// <summary>
    /// Sends GOAWAY on the control stream: we will close soon. A server may name where to reconnect; a client's URI is
    /// always empty. New requests from the peer are then refused with GOING_AWAY.
    /// </summary>
    public async Task GoAwayAsync(string newSessionUri = "", ulong timeoutMs = 0, CancellationToken cancellationToken = default)
    {
        if (IsClient && newSessionUri.Length > 0) throw new ArgumentException("a client's GOAWAY carries no URI", nameof(newSessionUri));
        lock (_lock)
        {
            if (_goAwaySent) throw new InvalidOperationException("GOAWAY was already sent");
            _goAwaySent = true;
        }
        await WriteControlAsync(new MoqGoAway(newSessionUri, timeoutMs), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Ends the session with a termination code (CONNECTION_CLOSE / CLOSE_WEBTRANSPORT_SESSION).</summary>
    public Task CloseAsync(MoqSessionError code = MoqSessionError.NoError, string reason = "") => TerminateAsync(new MoqError(code, reason), local: true);

    /// <summary>Closes with NO_ERROR (the transport itself stays the caller's to dispose).</summary>
    public ValueTask DisposeAsync() => new(CloseAsync());

    /// <summary>Ends the session once; the first error wins. Local errors are sent to the peer as the close code.</summary>
    internal async Task TerminateAsync(MoqError error, bool local)
    {
        if (!_terminated.TrySetResult(error)) return;
        try { _cts.Cancel(); } catch (ObjectDisposedException) { }
        _peerSetup.TrySetException(new MoqSessionClosedException(error));
        FailAllRequests(error);
        if (local)
        {
            try { await _transport.CloseAsync((ulong)error.Code, error.Reason ?? "").ConfigureAwait(false); }
            catch (Exception) { /* already closed underneath: nothing more to tell the peer */ }
        }
    }

    /// <summary>A protocol error found by a background loop: close with its code, never throw.</summary>
    internal void Fail(MoqError error) => _ = TerminateAsync(error, local: true);

    private int _transportGone;

    /// <summary>True once the transport started closing (the peer's close, or ours underneath the session).</summary>
    internal bool TransportClosing => _transport.Closing.IsCompleted;

    /// <summary>
    /// The transport is closing. After a clean close (NO_ERROR) the peer expects what it sent before the close to count:
    /// QUIC acknowledged it, so the publisher may already have forgotten it. The session therefore reads every stream
    /// it has, and those still waiting to be accepted, to their ends (a read past what arrived throws) before it
    /// terminates, so subscriptions deliver every received object and see each stream end. Bounded by
    /// <see cref="MoqSessionOptions.CloseDrainTimeout"/>. Other codes terminate at once.
    /// </summary>
    private void OnTransportGone()
    {
        if (Interlocked.Exchange(ref _transportGone, 1) != 0) return;
        ulong? code = _transport.CloseErrorCode;
        // Without an application code the close may still have been a transport error or an idle timeout: the reason says
        // which, so that "closed NoError" in a report does not hide it.
        var reason = _transport.CloseDescription ?? "connection closed";
        var error = code is { } c ? new MoqError((MoqSessionError)c, reason) : new MoqError(MoqSessionError.NoError, reason);
        _ = DrainThenTerminateAsync(error);
    }

    private async Task DrainThenTerminateAsync(MoqError error)
    {
        if (error.Code == MoqSessionError.NoError && !_terminated.Task.IsCompleted)
        {
            try { await _readersDone.Task.WaitAsync(_options.CloseDrainTimeout).ConfigureAwait(false); }
            catch (TimeoutException) { }
        }
        await TerminateAsync(error, local: false).ConfigureAwait(false);
    }

    // Stream readers still running (the accept loop counts as one until it ends): the close drain waits for zero.
    private int _activeReaders = 1;
    private readonly TaskCompletionSource _readersDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal void ReaderStarted() => Interlocked.Increment(ref _activeReaders);

    internal void ReaderEnded()
    {
        if (Interlocked.Decrement(ref _activeReaders) == 0) _readersDone.TrySetResult();
    }

    /// <summary>Runs a background task body: protocol errors close the session, cancellation on close is quiet.</summary>
    internal async Task GuardAsync(Func<Task> body, bool streamErrorsAreFatal = false)
    {
        try { await body().ConfigureAwait(false); }
        catch (MoqProtocolException e) { Fail(e.Error); }
        catch (Exception) when (_terminated.Task.IsCompleted) { }
        catch (OperationCanceledException) { }
        catch (Exception e) when (!streamErrorsAreFatal && e is IOException or InvalidOperationException) { /* a stream was reset or closed */ }
        catch (Exception e) { Fail(new MoqError(MoqSessionError.InternalError, "internal error: " + e.GetType().Name)); }
    }

    /// <summary>
    /// Accepts the peer's streams. When the transport closes, the streams it had already received are still handed out
    /// (then accepting throws), so their data is read too.
    /// </summary>
    private async Task AcceptLoopAsync()
    {
        try
        {
            while (!_cts.IsCancellationRequested)
            {
                IMoqStream stream;
                try { stream = await _transport.AcceptStreamAsync(_cts.Token).ConfigureAwait(false); }
                catch (Exception) { OnTransportGone(); return; }
                if (stream.IsBidirectional)
                {
                    _ = GuardAsync(() => HandleRequestStreamAsync(stream));
                    continue;
                }
                ReaderStarted();
                _ = GuardReaderAsync(stream);
            }
        }
        finally { ReaderEnded(); }
    }

    private async Task GuardReaderAsync(IMoqStream stream)
    {
        try { await GuardAsync(() => HandleUnidirectionalStreamAsync(stream)).ConfigureAwait(false); }
        finally { ReaderEnded(); }
    }

    private async Task DatagramLoopAsync()
    {
        while (!_cts.IsCancellationRequested)
        {
            ReadOnlyMemory<byte> datagram;
            try { datagram = await _transport.ReceiveDatagramAsync(_cts.Token).ConfigureAwait(false); }
            catch (Exception) { return; }
            if (!_peerSetup.Task.IsCompletedSuccessfully) continue; // unreliable anyway: drop what precedes SETUP
            if (!MoqObjectDatagram.TryParse(datagram, 128, out ulong alias, out var obj, out _, out bool padding, out var error, _options.DataLimits))
            {
                Fail(error);
                return;
            }
            if (padding) continue;
            MoqSubscription? subscription;
            lock (_lock) _subscriptionsByAlias.TryGetValue(alias, out subscription);
            subscription?.TryDeliverDatagram(obj);
        }
    }

    /// <summary>Waits (bounded) for a stream that arrived before the peer's SETUP; false if too many are waiting.</summary>
    private async Task<bool> WaitForSetupAsync()
    {
        if (_peerSetup.Task.IsCompletedSuccessfully) return true;
        if (Interlocked.Increment(ref _earlyStreams) > _options.MaxEarlyStreams)
        {
            Interlocked.Decrement(ref _earlyStreams);
            return false;
        }
        try { await _peerSetup.Task.WaitAsync(_cts.Token).ConfigureAwait(false); }
        finally { Interlocked.Decrement(ref _earlyStreams); }
        return true;
    }

    private async Task HandleControlStreamAsync(MoqStreamReader reader)
    {
        if (Interlocked.Exchange(ref _peerControlStreamSeen, 1) == 1) throw new MoqProtocolException(MoqError.Protocol("a second control stream"));
        try
        {
            var setup = await reader.ReadMessageAsync(_cts.Token).ConfigureAwait(false) as MoqSetup
                ?? throw new MoqProtocolException(MoqError.Protocol("control stream closed before SETUP"));
            ValidatePeerSetup(setup.Options);
            _peerSetup.TrySetResult(setup.Options);
            while (true)
            {
                var message = await reader.ReadMessageAsync(_cts.Token).ConfigureAwait(false);
                switch (message)
                {
                    case null:
                        throw new MoqProtocolException(MoqError.Protocol("the control stream was closed"));
                    case MoqGoAway goAway:
                        if (!IsClient && goAway.NewSessionUri.Length > 0) throw new MoqProtocolException(MoqError.Protocol("a client's GOAWAY carried a URI"));
                        if (!_goAwayReceived.TrySetResult(goAway)) throw new MoqProtocolException(MoqError.Protocol("second GOAWAY on the control stream"));
                        break;
                    default:
                        throw new MoqProtocolException(MoqError.Protocol($"{message.Type} is not allowed on the control stream"));
                }
            }
        }
        catch (Exception e) when (e is not MoqProtocolException && !_terminated.Task.IsCompleted && !_cts.IsCancellationRequested)
        {
            // The stream also fails when the whole connection closes; then the peer's close code is the news, not us.
            await Task.WhenAny(_transport.Closing, Task.Delay(200)).ConfigureAwait(false);
            if (_transport.Closing.IsCompleted)
            {
                OnTransportGone();
                return;
            }
            // A reset control stream is a protocol violation (§"Session initialization").
            throw new MoqProtocolException(MoqError.Protocol("the control stream was reset"));
        }
    }

    private void ValidatePeerSetup(MoqSetupOptions peer)
    {
        if (IsClient)
        {
            if (peer.Path is not null) throw new MoqProtocolException(new MoqError(MoqSessionError.InvalidPath, "PATH from a server"));
            if (peer.Authority is not null) throw new MoqProtocolException(new MoqError(MoqSessionError.InvalidAuthority, "AUTHORITY from a server"));
        }
        else if (_transport.Kind == MoqTransportKind.WebTransport)
        {
            if (peer.Path is not null) throw new MoqProtocolException(new MoqError(MoqSessionError.InvalidPath, "PATH over WebTransport"));
            if (peer.Authority is not null) throw new MoqProtocolException(new MoqError(MoqSessionError.InvalidAuthority, "AUTHORITY over WebTransport"));
        }
        foreach (var token in peer.AuthorizationTokens)
            if (!IsClient && token.AliasType is MoqAuthAliasType.Delete or MoqAuthAliasType.UseAlias)
                throw new MoqProtocolException(MoqError.Protocol("DELETE / USE_ALIAS token in SETUP"));
    }

    /// <summary>Peer's request IDs: right parity, never reused; otherwise INVALID_REQUEST_ID.</summary>
    internal void UsePeerRequestId(ulong id)
    {
        if (!_peerRequestIds.TryUse(id, out var error)) throw new MoqProtocolException(error);
    }
}
