using FastRelay.Descriptors;

namespace FastRelay.Protocols.Quic;

/// <summary>
/// A fast-path QUIC 1-RTT packet on a connection where both ends negotiated disable_1rtt_encryption (transport
/// parameter 0xBAAD): no header protection, no AEAD, no tag, so header and payload are readable. Our publisher sends the
/// data of MoQ subgroup streams in exactly this layout (docs/quic-fast-path.md); everything else (control streams, ACKs,
/// other frames, retransmissions) is ordinary QUIC and takes the userspace path.
/// <code>
///  0          1 .. 8            9 .. 12         13          14 .. 21          22 .. 29          30 ..
/// +----------+-----------------+---------------+-----------+-----------------+-----------------+---------------
/// |01S00K11  | destination CID | packet number | 0b0000110F| stream id       | offset          | stream data to
/// |short hdr | (8 bytes)       | (4 bytes, BE) | STREAM    | (8-byte varint) | (8-byte varint) | the datagram end
/// +----------+-----------------+---------------+-----------+-----------------+-----------------+---------------
/// </code>
/// The STREAM frame has OFF set and LEN clear (its data runs to the end of the packet); F is FIN.
/// <para>What the thesis layout had and this one does not: a priority in the first connection id byte and the track in
/// the next four. The channel (track) is not in the packet at all: userspace reads it from the subgroup header at the
/// start of each upstream stream and assigns (upstream connection id, upstream stream id) to the channel through
/// fr_channel_lookup (the two <see cref="FieldAttribute.ChannelKey"/> fields). The priority is a per-stream decision MoQ
/// makes when a subgroup starts, never per packet: userspace either installs a subscriber's stream mapping (with the
/// subgroup's urgency for the budget) or does not (not installed = not forwarded), so a subscriber never gets a stream
/// with a hole in it. Connection ids carry no meaning, as RFC 9000 intends.</para>
/// <para>Subscribers need not have negotiated 0xBAAD (<c>EncryptedSubscribers</c>): a copy for a subscriber connection with
/// full 1-RTT protection is built in this layout and then sealed with that connection's keys in the egress program
/// (docs/quic-encrypted-fast-path.md). The upstream always sends this clear-text layout.</para>
/// </summary>
[FastRelayProtocol("quic_moq", UdpPort = 4433, MaxSubscribers = 64, MaxChannels = 64, PriorityDrop = true, ChannelLookupEntries = 4096,
    EncryptedSubscribers = true)]
public sealed partial record QuicMoqHeader
{
    /// <summary>Short header, fixed bit set, reserved bits clear, 4-byte packet number (RFC 9000 §17.3.1); spin and key
    /// phase bits free. Every 1-RTT packet of a fast-path connection matches, so the kernel numbers the relay's own ones.</summary>
    [Match(0, Mask = 0xDB, Value = 0x43, Scope = MatchScope.Connection)]
    public byte FirstByte { get; init; }

    /// <summary>Destination connection id: replaced by the subscriber's own on every copy; as received, half of the key
    /// that names the channel (the upstream connection).</summary>
    [ConnectionId(1, 8, ChannelKey = true)]
    public ReadOnlyMemory<byte> DestinationConnectionId { get; init; }

    /// <summary>Always 4 bytes on these connections; the kernel numbers every packet to a subscriber.</summary>
    [PacketNumber(9, Translate = true)]
    public uint PacketNumber { get; init; }

    /// <summary>Exactly one STREAM frame with OFF set and LEN clear (0x0C, or 0x0D with FIN).</summary>
    [Match(13, Mask = 0xFE, Value = 0x0C)]
    [FinFlag(13, Mask = 0x01)]
    public byte FrameType { get; init; }

    /// <summary>Translated per subscriber to the stream the relay opened for it; as received, the other half of the
    /// channel key (the upstream stream carries one subgroup of one track).</summary>
    [StreamId(14, Width = 8, Encoding = StreamIdEncoding.QuicVarint, Translate = true, ChannelKey = true)]
    public ulong StreamId { get; init; }

    /// <summary>Moved by the mapping's delta (the relay's subgroup header for the subscriber may differ in length from
    /// the upstream's), forwarded only from the mapping's forward-from and within the subscriber's flow control.</summary>
    [StreamOffset(22, Width = 8, Encoding = StreamIdEncoding.QuicVarint)]
    public ulong Offset { get; init; }

    /// <summary>The stream data, to the end of the datagram.</summary>
    [Payload(30)]
    public ReadOnlyMemory<byte> Data { get; init; }
}
