using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace FastRelay.Protocols.CustomUdp.Wire;

/// <summary>
/// The 16-byte header every custom-UDP datagram starts with (README: byte 0 version/kind, byte 1 priority/flags,
/// 2..3 channel, 4..7 sequence, 8..15 timestamp ns). Decoding never throws; a DATA packet is
/// <c>(byte0 &amp; 0xF8) == 0x18</c> (reserved bits 0..2 tolerated, as the kernel's match does), a CONTROL packet
/// is <c>byte0 == 0x10</c> exactly; anything else is not a custom-UDP packet.
/// </summary>
public readonly record struct PacketHeader
{
    /// <summary>Protocol version (high nibble of byte 0); always <see cref="CustomUdpWire.Version"/> for a decoded header.</summary>
    public byte Version { get; init; }

    /// <summary>DATA (kernel fast path, numbered per subscriber) or CONTROL (relay userspace).</summary>
    public bool IsData { get; init; }

    /// <summary>Bits 0..2 of byte 1: 0 = most urgent … 7 = least.</summary>
    public byte Priority { get; init; }

    /// <summary>Bits 3..7 of byte 1 (application flags, 0..31), carried unchanged.</summary>
    public byte Flags { get; init; }

    public ushort Channel { get; init; }

    /// <summary>DATA: the receiver's sequence number (renumbered per subscriber by the relay). CONTROL: message-specific.</summary>
    public uint Sequence { get; init; }

    /// <summary>Sender's CLOCK_MONOTONIC at send, ns (<see cref="MonotonicClock.NowNs"/>).</summary>
    public ulong TimestampNs { get; init; }

    public PacketHeader() => Version = CustomUdpWire.Version;

    /// <summary>A DATA header (version 1).</summary>
    public static PacketHeader Data(ushort channel, uint sequence, ulong timestampNs, byte priority = 0, byte flags = 0) => new()
    {
        IsData = true, Channel = channel, Sequence = sequence, TimestampNs = timestampNs, Priority = priority, Flags = flags,
    };

    /// <summary>A CONTROL header (version 1, priority and flags 0).</summary>
    public static PacketHeader Control(ushort channel, ulong timestampNs, uint sequence = 0) => new()
    {
        IsData = false, Channel = channel, Sequence = sequence, TimestampNs = timestampNs,
    };

    /// <summary>Decodes the first 16 bytes; false if shorter or byte 0 is neither DATA nor CONTROL of version 1.</summary>
    public static bool TryRead(ReadOnlySpan<byte> packet, out PacketHeader header)
    {
        header = default;
        if (packet.Length < CustomUdpWire.HeaderSize)
            return false;
        var b0 = packet[0];
        bool isData;
        if ((b0 & CustomUdpWire.DataMask) == CustomUdpWire.DataByte0) isData = true;
        else if (b0 == CustomUdpWire.ControlByte0) isData = false;
        else return false;
        var b1 = packet[1];
        header = new PacketHeader
        {
            Version = CustomUdpWire.Version,
            IsData = isData,
            Priority = (byte)(b1 & 0x07),
            Flags = (byte)(b1 >> 3),
            Channel = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]),
            Sequence = BinaryPrimitives.ReadUInt32BigEndian(packet[4..]),
            TimestampNs = BinaryPrimitives.ReadUInt64BigEndian(packet[8..]),
        };
        return true;
    }

    /// <summary>Writes the 16 header bytes; returns <see cref="CustomUdpWire.HeaderSize"/>.
    /// Throws <see cref="ArgumentException"/> if the destination is too short or a field is out of range.</summary>
    public int Write(Span<byte> destination)
    {
        if (destination.Length < CustomUdpWire.HeaderSize)
            throw new ArgumentException($"need {CustomUdpWire.HeaderSize} bytes for the header", nameof(destination));
        if (Priority > 7) throw new ArgumentException("priority is 0..7");
        if (Flags > 31) throw new ArgumentException("flags are 0..31");
        if (!IsData && (Priority | Flags) != 0) throw new ArgumentException("CONTROL packets carry neither priority nor flags");
        destination[0] = IsData ? CustomUdpWire.DataByte0 : CustomUdpWire.ControlByte0;
        destination[1] = (byte)(Priority | (Flags << 3));
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], Channel);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], Sequence);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], TimestampNs);
        return CustomUdpWire.HeaderSize;
    }

    /// <summary>True if the datagram is a custom-UDP DATA packet (the kernel fast-path match).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsDataPacket(ReadOnlySpan<byte> packet) =>
        packet.Length >= CustomUdpWire.HeaderSize && (packet[0] & CustomUdpWire.DataMask) == CustomUdpWire.DataByte0;

    /// <summary>True if the datagram is a custom-UDP CONTROL packet (header complete, body not checked).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsControlPacket(ReadOnlySpan<byte> packet) =>
        packet.Length >= CustomUdpWire.HeaderSize && packet[0] == CustomUdpWire.ControlByte0;

    /// <summary>Rewrites the sequence field of a packet in place (what the relay does per subscriber).</summary>
    public static void WriteSequence(Span<byte> packet, uint sequence) => BinaryPrimitives.WriteUInt32BigEndian(packet[4..], sequence);

    /// <summary>Rewrites the timestamp field of a packet in place (stamp as late as possible before sending).</summary>
    public static void WriteTimestamp(Span<byte> packet, ulong timestampNs) => BinaryPrimitives.WriteUInt64BigEndian(packet[8..], timestampNs);
}
