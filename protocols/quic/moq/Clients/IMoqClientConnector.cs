using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Moq.Clients;

/// <summary>
/// What the publisher and subscriber tools need from MoQ, and nothing more: connect, publish one track, subscribe to one
/// track. The tools' logic (pacing, stamping, checking, reporting) is written against this, so it is tested with an
/// in-memory implementation; <see cref="MoqSessionConnector"/> implements it with the real session over raw QUIC.
/// </summary>
public interface IMoqClientConnector
{
    /// <summary>Connects and announces the track (PUBLISH_NAMESPACE); objects written before anyone subscribed are
    /// dropped by the session, as the draft's publisher does without a subscription.</summary>
    Task<IMoqTrackPublisher> PublishAsync(MoqClientEndpoint endpoint, MoqTrackName track, CancellationToken cancellationToken);

    /// <summary>Connects and subscribes (SUBSCRIBE with the start filter, and a joining FETCH when asked).</summary>
    Task<IMoqTrackSubscription> SubscribeAsync(MoqClientEndpoint endpoint, MoqTrackName track, MoqSubscribeOptions options, CancellationToken cancellationToken);
}

/// <summary>Where and how to connect.</summary>
public sealed record MoqClientEndpoint
{
    public required MoqUrl Url { get; init; }
    /// <summary>Do not validate the server certificate.</summary>
    public bool Insecure { get; init; }
    /// <summary>PEM file of extra trusted certificates (a relay's self-signed one).</summary>
    public string? TrustCertificatePath { get; init; }
    /// <summary>Sent as the draft's AUTHORIZATION TOKEN parameter (USE_VALUE, type 0: out-of-band), UTF-8.</summary>
    public string? AuthToken { get; init; }
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Offer disable_1rtt_encryption (0xBAAD) and send unidirectional (subgroup) stream data in the kernel fast
    /// path's layout (docs/quic-fast-path.md); effective only when the relay offers it too. Off by default.</summary>
    public bool FastPath { get; init; }
}

/// <summary>A full track name: namespace tuple and track name.</summary>
public sealed record MoqTrackName(IReadOnlyList<byte[]> Namespace, byte[] Name)
{
    public static MoqTrackName FromText(string ns, string track) =>
        new(TrackNamespaceText.Parse(ns), string.IsNullOrEmpty(track) ? throw new FormatException("the track name is empty") : System.Text.Encoding.UTF8.GetBytes(track));

    public override string ToString() => $"{TrackNamespaceText.Format(Namespace)} {System.Text.Encoding.UTF8.GetString(Name)}";
}

public sealed record MoqSubscribeOptions
{
    public SubscriptionStart Start { get; init; } = new SubscriptionStart.Latest();
    /// <summary>Also send a joining FETCH for this many groups up to the subscription's start, the current one included
    /// (0: none; 1: the current group from its first object; 2: the previous group too).</summary>
    public ulong JoiningFetchGroups { get; init; }
    /// <summary>SUBSCRIBER_PRIORITY (0 most urgent).</summary>
    public byte SubscriberPriority { get; init; } = 128;
}

/// <summary>The publishing side of one track.</summary>
public interface IMoqTrackPublisher : IAsyncDisposable
{
    /// <summary>Opens a subgroup (a SUBGROUP_HEADER stream) with its publisher priority.</summary>
    ValueTask<IMoqSubgroupWriter> OpenSubgroupAsync(ulong groupId, ulong subgroupId, byte publisherPriority, CancellationToken cancellationToken);

    /// <summary>Completes when the session under it has ended (for whatever reason).</summary>
    Task Closed { get; }

    /// <summary>Open the next group's subgroups as soon as this group's close (header only), so a relay's kernel fast
    /// path has mapped them before their first object arrives (see SubgroupWriters). On for fast-path publishers.</summary>
    bool OpensSubgroupsEarly => false;

    /// <summary>Completes when the first subscription for the track was accepted (a publisher may wait for it before
    /// sending anything: objects sent before it reach nobody).</summary>
    Task FirstSubscription => Task.CompletedTask;
}

/// <summary>One open subgroup: objects with rising ids, then the end of the subgroup.</summary>
public interface IMoqSubgroupWriter : IAsyncDisposable
{
    ValueTask WriteObjectAsync(ulong objectId, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken);

    /// <summary>Ends the subgroup cleanly (FIN).</summary>
    ValueTask CompleteAsync(CancellationToken cancellationToken);
}

/// <summary>One subscription's objects as they arrive (subscription and joining-fetch streams merged).</summary>
public interface IMoqTrackSubscription : IAsyncDisposable
{
    /// <summary>Objects as they complete; ends when the publisher ends the track (PUBLISH_DONE) or the session closes.
    /// The payload memory is only valid until the next object is requested.</summary>
    IAsyncEnumerable<ReceivedObject> ReadObjectsAsync(CancellationToken cancellationToken);

    /// <summary>Why the object sequence ended (null while it has not, or when it ended normally).</summary>
    string? EndReason { get; }
}
