using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Model;

namespace FastRelay.Protocols.Moq.Relay.Ports;

/// <summary>
/// What the session offers for sending one downstream subscription's objects: SUBGROUP streams (with the track alias
/// it chose), datagrams, and PUBLISH_DONE. The relay decides what to send, when, and at which priority.
/// </summary>
public interface IDownstreamTrackPort
{
    /// <summary>
    /// Opens a unidirectional stream and writes its SUBGROUP_HEADER (group, subgroup, publisher priority). Waits for
    /// stream credit; throws when the session is gone. <paramref name="firstObject"/>: the stream starts with the first
    /// object ever published in the subgroup (the header's FIRST_OBJECT bit, which a relay MUST then set).
    /// </summary>
    ValueTask<IDownstreamSubgroupWriter> OpenSubgroupAsync(ulong group, ulong subgroup, byte publisherPriority, int sendPriority, bool firstObject, CancellationToken cancellationToken);

    /// <summary>Sends one object as OBJECT_DATAGRAM; false when it does not fit or datagrams are off (dropped).</summary>
    bool TrySendDatagram(in RelayObject obj);

    /// <summary>PUBLISH_DONE with a status code, then the request stream ends. Called once, after the last stream closed.</summary>
    void Finish(MoqPublishDoneCode statusCode, string reason);

    /// <summary>A subgroup stream of this subscription was opened outside <see cref="OpenSubgroupAsync"/> (the kernel fast
    /// path's tap): PUBLISH_DONE counts it. A port without a stream count ignores it.</summary>
    void CountStreamOpenedElsewhere() { }
}

/// <summary>One downstream SUBGROUP stream, written by one relay task at a time.</summary>
public interface IDownstreamSubgroupWriter
{
    /// <summary>The stream's transport send priority (lower first); changes when the relay re-ranks groups.</summary>
    int SendPriority { get; set; }

    /// <summary>Writes one object's fields (the writer tracks the Object ID delta). Waits for flow-control credit.</summary>
    ValueTask WriteAsync(RelayObject obj, CancellationToken cancellationToken);

    /// <summary>FIN: every object of the subgroup was written.</summary>
    void Complete();

    /// <summary>RESET_STREAM: the subgroup is abandoned (draft-19: a started subgroup is finished or reset, never left with a hole).</summary>
    void Reset(MoqStreamResetCode code);
}

/// <summary>Where the relay sends NAMESPACE / NAMESPACE_DONE for a SUBSCRIBE_NAMESPACE: full namespaces under its
/// prefix (the session writes them relative to the prefix).</summary>
public interface INamespaceListener
{
    void OnNamespace(MoqTrackNamespace ns);
    void OnNamespaceDone(MoqTrackNamespace ns);
}
