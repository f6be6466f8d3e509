using FastRelay.Tests.Packets.Protocols;

namespace FastRelay.Tests.Packets.Fixtures;

/// <summary>
/// An upstream datagram as a clone for one subscriber carries it into subscriber egress, and the frame that subscriber
/// must receive. Expected bytes come from the protocol encoder and <see cref="PacketBuilder"/>, never from the kernel.
/// </summary>
public sealed record CopyCase(FastPathProtocol Protocol, SubscriberSpec Subscriber, HeaderFields Fields)
{
    public PacketBuilder Upstream { get; init; } = Frames.FromUpstream(Protocol, Subscriber.Remote.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6);
    public byte[] Tail { get; init; } = Frames.Tail();

    public byte[] Header => Protocol.Header(Fields);
    public int PayloadLength => Protocol.HeaderLength + Tail.Length;
    public byte[] Input => Upstream.Build(Frames.Payload(Header, Tail));

    /// <summary>The copy with the given packet number and (translated protocols) stream id.</summary>
    public byte[] Expected(ulong packetNumber, ulong? streamId) =>
        Frames.ExpectedCopy(Protocol, Upstream, Subscriber, Header, Tail, packetNumber, streamId);

    /// <summary>The stream id the subscriber sees for <see cref="HeaderFields.StreamId"/> in the test's mapping.</summary>
    public static ulong TranslatedStream(uint slot, ulong upstreamStreamId) => 0x100 + slot * 0x10 + upstreamStreamId;

    /// <summary>Installs the test's stream mapping for this case (translated protocols only); returns the id to expect.</summary>
    public ulong? MapStream(MapBinding maps, uint slot)
    {
        if (!Protocol.TranslatesStreams)
            return null;
        var sid = TranslatedStream(slot, Fields.StreamId);
        maps.SetStream(slot, Fields.StreamId, sid);
        return sid;
    }
}
