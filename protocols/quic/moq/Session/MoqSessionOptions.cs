using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;

namespace FastRelay.Protocols.Moq.Session;

/// <summary>What a session announces in SETUP and the limits it enforces on its peer.</summary>
public sealed record MoqSessionOptions
{
    /// <summary>MOQT_IMPLEMENTATION sent in SETUP (null = do not send).</summary>
    public string? Implementation { get; init; } = "FastRelay";

    /// <summary>PATH (client over native QUIC only), e.g. <c>/live?room=1</c>.</summary>
    public string? Path { get; init; }

    /// <summary>AUTHORITY (client over native QUIC only), e.g. <c>relay.example:443</c>.</summary>
    public string? Authority { get; init; }

    /// <summary>MAX_REQUEST_UPDATES we announce (0 = unlimited).</summary>
    public ulong MaxRequestUpdates { get; init; } = 8;

    /// <summary>
    /// MAX_FILTER_RANGES we announce: how many ranges the peer's Range Filters may hold per request. 0 (the default) is
    /// not announced, and then the peer may send no Range Filters at all (a handler refuses them INVALID_FILTER).
    /// </summary>
    public ulong MaxFilterRanges { get; init; }

    /// <summary>Authorization tokens to put in SETUP.</summary>
    public IReadOnlyList<MoqAuthToken> SetupAuthorizationTokens { get; init; } = Array.Empty<MoqAuthToken>();

    /// <summary>Answers the peer's requests (SUBSCRIBE, FETCH, ...). Null: every request is rejected with NOT_SUPPORTED.</summary>
    public IMoqRequestHandler? Handler { get; init; }

    /// <summary>Mandatory Track Property types (0x4000..0x7FFF) the application understands; tracks with others are refused.</summary>
    public IReadOnlySet<ulong> UnderstoodMandatoryProperties { get; init; } = new HashSet<ulong>();

    /// <summary>How long to wait for the peer's SETUP.</summary>
    public TimeSpan SetupTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Requests the peer may have open at once; more are answered with REQUEST_ERROR EXCESSIVE_LOAD.</summary>
    public int MaxInboundRequests { get; init; } = 256;

    /// <summary>Unidirectional data streams the peer may have open at once; more are refused with STOP_SENDING.</summary>
    public int MaxInboundDataStreams { get; init; } = 1024;

    /// <summary>Streams that may arrive before the peer's SETUP and wait for it; more are refused.</summary>
    public int MaxEarlyStreams { get; init; } = 32;

    /// <summary>Namespaces the peer may publish (PUBLISH_NAMESPACE) at once; more are answered with EXCESSIVE_LOAD.</summary>
    public int MaxPeerNamespaces { get; init; } = 1024;

    /// <summary>Bytes buffered per stream for one control message or object header (an object payload adds up to <see cref="DataLimits"/>).</summary>
    public int MaxStreamBuffer { get; init; } = 64 * 1024 + 16;

    /// <summary>Bytes all data streams together may buffer; a stream that would exceed it is refused (STOP_SENDING).</summary>
    public long MaxBufferedBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Limits on one object (payload, properties) on data streams and datagrams.</summary>
    public MoqDataLimits DataLimits { get; init; } = MoqDataLimits.Default;

    /// <summary>Objects queued per subscription or fetch before the data streams stop being read (back pressure).</summary>
    public int ObjectQueueLength { get; init; } = 1024;

    /// <summary>
    /// A subscription's reader (<see cref="Subscriber.MoqSubscription.Events"/>) continues on the thread that queued the
    /// object, instead of being handed to the thread pool: right for a reader that only hands objects on without blocking,
    /// such as a relay's, which saves a wake-up (and the pool's wake of a second worker) per object. Off by default: an
    /// application's reader may do anything, and would then run on the connection's receive thread.
    /// </summary>
    public bool InlineSubscriptionDelivery { get; init; }

    /// <summary>How long a data stream whose Track Alias or Request ID is not yet known waits for it before it is abandoned.</summary>
    public TimeSpan UnknownAliasWait { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>After PUBLISH_DONE, how long to wait for late data streams before the subscription's object stream ends.</summary>
    public TimeSpan PublishDoneLinger { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// When the peer closes with NO_ERROR, how long the session may still spend reading what the peer sent before its
    /// close (streams already received, read to their ends) before it terminates. The data is local by then, so this
    /// only bounds a consumer that does not take objects.
    /// </summary>
    public TimeSpan CloseDrainTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Raw bytes of incoming subgroup streams, for the QUIC kernel fast path (<see cref="IMoqSubgroupTap"/>).
    /// Null (default): nothing is tapped.</summary>
    public IMoqSubgroupTap? SubgroupTap { get; init; }
}
