using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;

namespace FastRelay.Protocols.Moq.Relay.Sessions;

/// <summary>
/// A downstream subscription's port over the session's <see cref="MoqTrackPublication"/>. The relay joins the
/// subscriber to the track before SUBSCRIBE_OK is written (so no object falls between Largest and the first forwarded
/// one); streams wait here until the publication exists.
/// </summary>
internal sealed class PublicationPort : IDownstreamTrackPort
{
    private readonly TaskCompletionSource<MoqTrackPublication> _publication = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Attach(MoqTrackPublication publication) => _publication.TrySetResult(publication);

    /// <summary>The alias the session gave this subscription (the subscriber's SUBGROUP_HEADERs carry it); null until
    /// the publication exists.</summary>
    public ulong? TrackAlias => _publication.Task.IsCompletedSuccessfully ? _publication.Task.Result.TrackAlias : null;

    public void Fail(Exception error) => _publication.TrySetException(error);

    public async ValueTask<IDownstreamSubgroupWriter> OpenSubgroupAsync(ulong group, ulong subgroup, byte publisherPriority, int sendPriority, bool firstObject, CancellationToken cancellationToken)
    {
        var publication = await _publication.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        // Properties may appear on any object of a subgroup; the header has to say so up front (one byte per object).
        var stream = await publication.OpenSubgroupAsync(group, subgroup, endOfGroup: false, publisherPriority, withProperties: true, cancellationToken, firstObject).ConfigureAwait(false);
        return new SubgroupStreamWriter(stream);
    }

    public bool TrySendDatagram(in RelayObject obj) =>
        _publication.Task.IsCompletedSuccessfully && _publication.Task.Result.TrySendDatagram(RelayObjects.ToSession(obj));

    public void CountStreamOpenedElsewhere()
    {
        if (_publication.Task.IsCompletedSuccessfully) _publication.Task.Result.CountStreamOpenedElsewhere();
    }

    public void Finish(MoqPublishDoneCode statusCode, string reason)
    {
        if (_publication.Task.IsCompletedSuccessfully)
            _ = _publication.Task.Result.FinishAsync(statusCode, reason);
    }

    /// <summary>One downstream SUBGROUP stream. The session sets the stream's transport priority when it opens it, from
    /// the same three keys as the relay's rank (subscriber, publisher priority, group order).</summary>
    private sealed class SubgroupStreamWriter(MoqSubgroupStream stream) : IDownstreamSubgroupWriter
    {
        public int SendPriority { get; set; }

        public ValueTask WriteAsync(RelayObject obj, CancellationToken cancellationToken) =>
            new(obj.Status == MoqObjectStatus.Normal
                ? stream.WriteObjectAsync(obj.ObjectId, obj.Payload, obj.Properties, cancellationToken)
                : stream.WriteStatusAsync(obj.ObjectId, obj.Status, cancellationToken));

        public void Complete() => _ = stream.CompleteAsync();

        public void Reset(MoqStreamResetCode code) => stream.Reset(code);
    }
}
