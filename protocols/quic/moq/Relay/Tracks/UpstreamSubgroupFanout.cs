using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Delivery;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;

namespace FastRelay.Protocols.Moq.Relay.Tracks;

/// <summary>
/// One upstream SUBGROUP stream and the downstream subgroup stream it feeds for each subscriber. Objects forwarded on a
/// downstream stream are exactly those of this upstream stream that pass the subscriber's filter, in the same order
/// (draft-19 §"Closing Subgroup Streams": the next object of the subgroup); its FIN or reset is passed on after them.
/// </summary>
internal sealed class UpstreamSubgroupFanout : IUpstreamSubgroupSink
{
    private readonly RelayTrack _track;

    public UpstreamSubgroupFanout(RelayTrack track) => _track = track;

    /// <summary>Guarded by the track's lock.</summary>
    public Dictionary<DownstreamSubscription, OutgoingSubgroup> Outgoing { get; } = new(ReferenceEqualityComparer.Instance);

    /// <summary>Subscribers the kernel fast path serves this subgroup to (the relay's delivery skips them), taken from
    /// the track's claims at the first object; guarded by the track's lock.</summary>
    public HashSet<DownstreamSubscription>? FastPath { get; set; }
    public bool FastPathChecked { get; set; }

    public void OnObject(in RelayObject obj) => _track.Deliver(this, obj);

    public void OnClosed(bool finished) => _track.CloseSubgroup(this, finished);

    public void OnReset(MoqStreamResetCode code) => _track.CloseSubgroup(this, false, code);
}
