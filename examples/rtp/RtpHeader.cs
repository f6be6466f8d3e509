using System;
using FastRelay.Descriptors;

namespace FastRelay.Examples.Rtp;

/// <summary>
/// The RTP fixed header (RFC 3550 section 5.1), as media senders such as ffmpeg emit it:
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |V=2|P|X|  CC   |M|     PT      |       sequence number         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                           timestamp                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           synchronization source (SSRC) identifier            |
/// +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
/// |            contributing source (CSRC) identifiers (CC of them)|
/// </code>
/// Each SSRC is a channel: the relay configuration lists, per SSRC, the one sender allowed to feed it and the
/// receivers. Receivers detect loss and reorder on the sender's sequence numbers, so they pass through unchanged.
/// What RTP needs and the descriptor language cannot say yet is listed in docs/descriptor-gaps.md.
/// </summary>
[FastRelayProtocol("rtp", UdpPort = 5004, MaxSubscribers = 16, MaxChannels = 8)]
public sealed record RtpHeader
{
    /// <summary>Version 2 in the top two bits; padding, extension and CSRC count below are not matched.</summary>
    [Match(0, Mask = 0xC0, Value = 0x80)]
    public byte VersionAndFlags { get; init; }

    /// <summary>Passed through: a receiver's jitter buffer and loss statistics (RTCP RR) use the sender's numbers.</summary>
    [PacketNumber(2, Translate = false)]
    public ushort SequenceNumber { get; init; }

    [Channel(8)]
    public uint Ssrc { get; init; }

    /// <summary>Right only without CSRCs or a header extension (a payload start that depends on CC is a language gap);
    /// the fast path does not read the payload, so forwarding is unaffected.</summary>
    [Payload(12)]
    public ReadOnlyMemory<byte> Payload { get; init; }
}

/// <summary>
/// The same RTP header with sequence numbers renumbered per receiver: each receiver sees 0, 1, 2, ... of what it was
/// sent, whenever it joined (for receivers that treat a jump in the sequence as loss). Only the sequence number
/// changes; the timestamp stays the sender's. Choose it with <c>--protocol rtp_renumbered</c>.
/// </summary>
[FastRelayProtocol("rtp_renumbered", UdpPort = 5004, MaxSubscribers = 16, MaxChannels = 8)]
public sealed record RtpRenumberedHeader
{
    [Match(0, Mask = 0xC0, Value = 0x80)]
    public byte VersionAndFlags { get; init; }

    [PacketNumber(2, Translate = true)]
    public ushort SequenceNumber { get; init; }

    [Channel(8)]
    public uint Ssrc { get; init; }

    [Payload(12)]
    public ReadOnlyMemory<byte> Payload { get; init; }
}
