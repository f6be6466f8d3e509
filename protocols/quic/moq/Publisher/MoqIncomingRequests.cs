using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Subscriber;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Messages;

namespace FastRelay.Protocols.Moq.Publisher;

/// <summary>A request the peer opened; answer it exactly once with an Accept method or <see cref="RejectAsync"/>.</summary>
public abstract class MoqIncomingRequest
{
    private int _answered;

    private protected MoqIncomingRequest(MoqSession session, MoqRequestStream stream, ulong requestId)
    {
        Session = session;
        Stream = stream;
        RequestId = requestId;
    }

    public MoqSession Session { get; }
    public ulong RequestId { get; }
    internal MoqRequestStream Stream { get; }
    public bool IsAnswered => Volatile.Read(ref _answered) == 1;

    private protected void MarkAnswered()
    {
        if (Interlocked.Exchange(ref _answered, 1) == 1) throw new InvalidOperationException("the request was already answered");
    }

    /// <summary>REQUEST_ERROR and FIN. <paramref name="retryInterval"/> is milliseconds + 1 (0 = do not retry).</summary>
    public async Task RejectAsync(MoqRequestErrorCode code, string reason = "", ulong retryInterval = 0, MoqRedirect? redirect = null)
    {
        MarkAnswered();
        await Stream.WriteAsync(new MoqRequestError((ulong)code, retryInterval, reason, redirect), fin: true).ConfigureAwait(false);
    }
}

/// <summary>An inbound SUBSCRIBE.</summary>
public sealed class MoqIncomingSubscribe : MoqIncomingRequest
{
    internal MoqIncomingSubscribe(MoqSession session, MoqRequestStream stream, MoqSubscribe message) : base(session, stream, message.RequestId) => Message = message;

    public MoqSubscribe Message { get; }
    public MoqFullTrackName Track => Message.Track;
    public MoqMessageParameters Parameters => Message.Parameters;
    internal MoqTrackPublication? Publication { get; private set; }

    /// <summary>
    /// SUBSCRIBE_OK with a fresh Track Alias. <paramref name="largestObject"/> must be given when objects were published.
    /// Returns where to write the track's objects for this subscriber.
    /// </summary>
    public async Task<MoqTrackPublication> AcceptAsync(MoqLocation? largestObject = null, IReadOnlyList<MoqKeyValuePair>? trackProperties = null,
        ulong? expiresMs = null, byte publisherPriority = 128, MoqGroupOrder publisherGroupOrder = MoqGroupOrder.Ascending)
    {
        MarkAnswered();
        ulong alias = Session.AllocateTrackAlias();
        var publication = new MoqTrackPublication(Session, Stream, RequestId, Track, alias, Parameters, publisherPriority,
            Parameters.GroupOrder ?? publisherGroupOrder);
        Session.RegisterPublication(publication);
        var okParameters = new MoqMessageParameters { LargestObject = largestObject, ExpiresMs = expiresMs };
        await Stream.WriteAsync(new MoqSubscribeOk(alias, okParameters, trackProperties ?? Array.Empty<MoqKeyValuePair>())).ConfigureAwait(false);
        Publication = publication;
        return publication;
    }
}

/// <summary>
/// An inbound FETCH. For a joining fetch the session has already found the subscription it joins
/// (<see cref="JoinedSubscription"/>); <see cref="ResolveRange"/> turns its Joining Start into a range.
/// </summary>
public sealed class MoqIncomingFetch : MoqIncomingRequest
{
    internal MoqIncomingFetch(MoqSession session, MoqRequestStream stream, MoqFetch message, MoqTrackPublication? joined)
        : base(session, stream, message.RequestId)
    {
        Message = message;
        JoinedSubscription = joined;
    }

    public MoqFetch Message { get; }
    public MoqTrackPublication? JoinedSubscription { get; }
    public MoqMessageParameters Parameters => Message.Parameters;
    public MoqFullTrackName Track => Message.Standalone?.Track ?? JoinedSubscription!.Track;
    public MoqGroupOrder GroupOrder => Parameters.GroupOrder ?? MoqGroupOrder.Ascending;

    /// <summary>
    /// [Start, End) of this fetch in the standalone encoding. For a joining fetch <paramref name="joiningLocation"/>
    /// is where the joined subscription started (its largest object when it was accepted): the fetch ends just after
    /// it, and starts Joining Start groups before it (relative) or at group Joining Start (absolute).
    /// </summary>
    public (MoqLocation Start, MoqLocation End) ResolveRange(MoqLocation joiningLocation = default)
    {
        if (Message.Standalone is { } s) return (s.Start, s.End);
        var joining = Message.Joining!.Value;
        var end = new MoqLocation(joiningLocation.Group, joiningLocation.Object + 1);
        ulong startGroup = Message.FetchType == MoqFetchType.RelativeJoining
            ? joiningLocation.Group - Math.Min(joiningLocation.Group, joining.JoiningStart)
            : joining.JoiningStart;
        return (new MoqLocation(startGroup, 0), end);
    }

    /// <summary>FETCH_OK, then the FETCH_HEADER stream the objects go on.</summary>
    public async Task<MoqFetchStream> AcceptAsync(MoqLocation endLocation, bool endOfTrack = false, IReadOnlyList<MoqKeyValuePair>? trackProperties = null)
    {
        MarkAnswered();
        var stream = await MoqFetchStream.OpenAsync(Session, RequestId, GroupOrder).ConfigureAwait(false);
        await Stream.WriteAsync(new MoqFetchOk(endOfTrack, endLocation, new MoqMessageParameters(), trackProperties ?? Array.Empty<MoqKeyValuePair>()), fin: true).ConfigureAwait(false);
        return stream;
    }
}

/// <summary>An inbound TRACK_STATUS.</summary>
public sealed class MoqIncomingTrackStatus : MoqIncomingRequest
{
    internal MoqIncomingTrackStatus(MoqSession session, MoqRequestStream stream, MoqTrackStatus message) : base(session, stream, message.RequestId) => Message = message;

    public MoqTrackStatus Message { get; }
    public MoqFullTrackName Track => Message.Track;

    /// <summary>TRACK_STATUS_OK (REQUEST_OK with LARGEST_OBJECT and Track Properties), then FIN.</summary>
    public async Task AcceptAsync(MoqLocation? largestObject = null, IReadOnlyList<MoqKeyValuePair>? trackProperties = null, ulong? expiresMs = null)
    {
        MarkAnswered();
        var parameters = new MoqMessageParameters { LargestObject = largestObject, ExpiresMs = expiresMs };
        await Stream.WriteAsync(new MoqRequestOk(parameters, trackProperties ?? Array.Empty<MoqKeyValuePair>()), fin: true).ConfigureAwait(false);
    }
}

/// <summary>An inbound SUBSCRIBE_NAMESPACE.</summary>
public sealed class MoqIncomingSubscribeNamespace : MoqIncomingRequest
{
    internal MoqIncomingSubscribeNamespace(MoqSession session, MoqRequestStream stream, MoqSubscribeNamespace message) : base(session, stream, message.RequestId) => Message = message;

    public MoqSubscribeNamespace Message { get; }
    public MoqTrackNamespace Prefix => Message.Prefix;
    internal MoqNamespaceAnnouncer? Announcer { get; private set; }

    /// <summary>REQUEST_OK; announce matching namespaces on the result.</summary>
    public async Task<MoqNamespaceAnnouncer> AcceptAsync()
    {
        MarkAnswered();
        var announcer = new MoqNamespaceAnnouncer(Stream, Prefix);
        await Stream.WriteAsync(new MoqRequestOk()).ConfigureAwait(false);
        Announcer = announcer;
        return announcer;
    }
}

/// <summary>An inbound PUBLISH_NAMESPACE.</summary>
public sealed class MoqIncomingPublishNamespace : MoqIncomingRequest
{
    internal MoqIncomingPublishNamespace(MoqSession session, MoqRequestStream stream, MoqPublishNamespace message) : base(session, stream, message.RequestId) => Message = message;

    public MoqPublishNamespace Message { get; }
    public MoqTrackNamespace Namespace => Message.Namespace;
    internal MoqPeerNamespace? Accepted { get; private set; }

    /// <summary>REQUEST_OK; the result says when the peer withdraws the namespace.</summary>
    public async Task<MoqPeerNamespace> AcceptAsync()
    {
        MarkAnswered();
        var accepted = new MoqPeerNamespace(Session, Stream, RequestId, Namespace);
        await Stream.WriteAsync(new MoqRequestOk()).ConfigureAwait(false);
        Accepted = accepted;
        return accepted;
    }
}

/// <summary>An inbound PUBLISH: the peer offers a track's objects.</summary>
public sealed class MoqIncomingPublish : MoqIncomingRequest
{
    internal MoqIncomingPublish(MoqSession session, MoqRequestStream stream, MoqPublish message) : base(session, stream, message.RequestId) => Message = message;

    public MoqPublish Message { get; }
    public MoqFullTrackName Track => Message.Track;
    internal MoqSubscription? Subscription { get; private set; }

    /// <summary>PUBLISH_OK (REQUEST_OK with our subscription parameters: FORWARD, SUBSCRIBER_PRIORITY, LOCATION_FILTER...).</summary>
    public async Task<MoqSubscription> AcceptAsync(MoqMessageParameters? parameters = null)
    {
        MarkAnswered();
        var subscription = Session.AcceptPublished(Stream, Message);
        await Stream.WriteAsync(new MoqRequestOk(parameters ?? new MoqMessageParameters(), Array.Empty<MoqKeyValuePair>())).ConfigureAwait(false);
        Subscription = subscription;
        return subscription;
    }
}

/// <summary>
/// An inbound SUBSCRIBE_TRACKS: after accepting, PUBLISH each matching track with <see cref="MoqSession.PublishAsync"/>
/// (FORWARD and GROUP_ORDER copied from <see cref="Parameters"/>) and report the ones left out with PUBLISH_SKIPPED.
/// </summary>
public sealed class MoqIncomingSubscribeTracks : MoqIncomingRequest
{
    internal MoqIncomingSubscribeTracks(MoqSession session, MoqRequestStream stream, MoqSubscribeTracks message) : base(session, stream, message.RequestId) => Message = message;

    public MoqSubscribeTracks Message { get; }
    public MoqTrackNamespace Prefix => Message.Prefix;
    public MoqMessageParameters Parameters => Message.Parameters;
    internal MoqTracksResponder? Responder { get; private set; }

    /// <summary>REQUEST_OK; then PUBLISH the tracks, and <see cref="MoqTracksResponder.SkipAsync"/> the others.</summary>
    public async Task<MoqTracksResponder> AcceptAsync()
    {
        MarkAnswered();
        var responder = new MoqTracksResponder(Stream, Prefix);
        await Stream.WriteAsync(new MoqRequestOk()).ConfigureAwait(false);
        Responder = responder;
        return responder;
    }
}

/// <summary>The answering side of a SUBSCRIBE_TRACKS: PUBLISH_SKIPPED for tracks that will not be published.</summary>
public sealed class MoqTracksResponder
{
    private readonly MoqRequestStream _stream;
    private readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal MoqTracksResponder(MoqRequestStream stream, MoqTrackNamespace prefix)
    {
        _stream = stream;
        Prefix = prefix;
    }

    public MoqTrackNamespace Prefix { get; }

    /// <summary>Completes when the subscriber cancelled its SUBSCRIBE_TRACKS.</summary>
    public Task Cancelled => _cancelled.Task;

    /// <summary>PUBLISH_SKIPPED for <paramref name="track"/> (its namespace must be under <see cref="Prefix"/>).</summary>
    public Task SkipAsync(MoqFullTrackName track)
    {
        if (!track.Namespace.StartsWith(Prefix)) throw new ArgumentException("track is not under the prefix", nameof(track));
        return _stream.WriteAsync(new MoqPublishSkipped(track.Namespace.Suffix(Prefix.Count), track.Name.ToArray()));
    }

    internal void OnCancelled() => _cancelled.TrySetResult();
}
