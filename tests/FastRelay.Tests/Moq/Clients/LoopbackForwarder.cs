using System.Net;
using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Tls.Certificates;

namespace FastRelay.Tests.Moq.Clients;

/// <summary>
/// The smallest MoQ server the client tools can be tested against over real QUIC before (and besides) the relay: it
/// accepts one publisher's PUBLISH_NAMESPACE and, for each SUBSCRIBE, subscribes to that publisher and copies the
/// objects onto subgroup streams of the subscriber's own (one upstream subscription per subscriber, no cache). A
/// required token, when set, must come as the AUTHORIZATION TOKEN of PUBLISH_NAMESPACE and SUBSCRIBE, else
/// UNAUTHORIZED. Test-only: the product relay is protocols/quic/moq/Relay.
/// </summary>
internal sealed class LoopbackForwarder : IAsyncDisposable, IMoqRequestHandler
{
    private readonly QuicListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<MoqSession> _publisher = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<MoqSession> _sessions = [];
    private readonly Task _acceptLoop;

    private LoopbackForwarder(QuicListener listener, string? requiredToken)
    {
        _listener = listener;
        RequiredToken = requiredToken;
        _acceptLoop = AcceptLoopAsync();
    }

    public string? RequiredToken { get; }
    public int Port => _listener.LocalEndPoint.Port;
    public string Url => $"moqt://127.0.0.1:{Port}/test";
    public int SubscribesAccepted;
    public int Refused;

    public static async Task<LoopbackForwarder> StartAsync(string? requiredToken = null)
    {
        var listener = await QuicListener.ListenAsync(new QuicListenerOptions
        {
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            ApplicationProtocols = [QuicMoqTransport.Alpn],
            ConnectionOptions = new QuicServerConnectionOptions
            {
                ServerCertificate = SelfSignedCertificate.Create(),
                ApplicationProtocols = [QuicMoqTransport.Alpn],
                MaxInboundUnidirectionalStreams = 1000,
            },
        });
        return new LoopbackForwarder(listener, requiredToken);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            QuicConnection connection;
            try { connection = await _listener.AcceptConnectionAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(async () =>
            {
                try
                {
                    var session = await MoqSession.AcceptAsync(new QuicMoqTransport(connection), new MoqSessionOptions { Handler = this }, _stop.Token);
                    lock (_sessions) _sessions.Add(session);
                }
                catch (Exception)
                {
                    await connection.DisposeAsync();
                }
            });
        }
    }

    private bool Authorized(MoqMessageParameters parameters) =>
        RequiredToken is null || parameters.AuthorizationTokens.Any(t => t.HasValue && t.Value.Span.SequenceEqual(System.Text.Encoding.UTF8.GetBytes(RequiredToken)));

    public async Task OnPublishNamespaceAsync(MoqIncomingPublishNamespace request, CancellationToken cancellationToken)
    {
        if (!Authorized(request.Message.Parameters))
        {
            Interlocked.Increment(ref Refused);
            await request.RejectAsync(MoqRequestErrorCode.Unauthorized, "token required");
            return;
        }
        await request.AcceptAsync();
        _publisher.TrySetResult(request.Session);
    }

    public async Task OnSubscribeAsync(MoqIncomingSubscribe request, CancellationToken cancellationToken)
    {
        if (!Authorized(request.Parameters))
        {
            Interlocked.Increment(ref Refused);
            await request.RejectAsync(MoqRequestErrorCode.Unauthorized, "token required");
            return;
        }
        var publisher = await _publisher.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
        var upstream = await publisher.SubscribeAsync(request.Track, new MoqMessageParameters { LocationFilter = request.Parameters.LocationFilter }, cancellationToken);
        var downstream = await request.AcceptAsync(upstream.LargestObject);
        Interlocked.Increment(ref SubscribesAccepted);
        _ = Task.Run(() => ForwardAsync(upstream, downstream));
    }

    private async Task ForwardAsync(Protocols.Moq.Subscriber.MoqSubscription upstream, MoqTrackPublication downstream)
    {
        var open = new Dictionary<(ulong Group, ulong Subgroup), MoqSubgroupStream>();
        try
        {
            await foreach (var obj in upstream.ReadObjectsAsync(_stop.Token))
            {
                if (downstream.Cancelled.IsCompleted) break;
                if (obj.Status != Protocols.Moq.Wire.Data.MoqObjectStatus.Normal) continue;
                // Subgroup ends are not visible in the merged object stream: a subgroup is closed when a newer group starts.
                foreach (var old in open.Keys.Where(k => k.Group < obj.GroupId).ToList())
                {
                    await open[old].CompleteAsync();
                    open.Remove(old);
                }
                var key = (obj.GroupId, obj.SubgroupId ?? 0);
                if (!open.TryGetValue(key, out var stream))
                    open[key] = stream = await downstream.OpenSubgroupAsync(obj.GroupId, key.Item2, publisherPriority: obj.PublisherPriority);
                await stream.WriteObjectAsync(obj.ObjectId, obj.Payload);
            }
            foreach (var s in open.Values) await s.CompleteAsync();
            await downstream.FinishAsync(MoqPublishDoneCode.TrackEnded, "upstream ended");
        }
        catch (Exception)
        {
            // A side went away: the test sees it in its reports.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _listener.DisposeAsync();
        await _acceptLoop;
        MoqSession[] sessions;
        lock (_sessions) sessions = [.. _sessions];
        foreach (var s in sessions)
        {
            try { await s.DisposeAsync(); await s.Transport.DisposeAsync(); }
            catch (Exception) { }
        }
    }
}
