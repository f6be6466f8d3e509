using System.Buffers.Binary;

namespace FastRelay.Tests.GenericRelay;

/// <summary>
/// tick_feed datagrams (tests/SampleProtocol/TickHeader.cs, the README's walkthrough): magic FEED (LE), type 1,
/// priority in bits 4..6 of byte 3, connection id (BE u32 at 4), instrument = channel (LE u32 at 8), stream (BE u16 at
/// 12), sequence (LE u64 at 15), payload from 24: the sequence again and then its complement, as far as the length
/// allows, so a receiver can check order and integrity.
/// </summary>
internal static class TickDatagram
{
    public const int HeaderLength = 24;

    public static byte[] Build(uint channel, ulong sequence, ushort stream = 1, int priority = 0, uint connectionId = 0, int length = 32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, HeaderLength);
        var packet = new byte[length];
        BinaryPrimitives.WriteUInt16LittleEndian(packet, 0xFEED);
        packet[2] = 1;
        packet[3] = (byte)(priority << 4);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), connectionId);
        BinaryPrimitives.WriteUInt32LittleEndian(packet.AsSpan(8), channel);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(12), stream);
        BinaryPrimitives.WriteUInt64LittleEndian(packet.AsSpan(15), sequence);
        if (length >= HeaderLength + 8) BinaryPrimitives.WriteUInt64LittleEndian(packet.AsSpan(HeaderLength), sequence);
        if (length >= HeaderLength + 16) BinaryPrimitives.WriteUInt64LittleEndian(packet.AsSpan(HeaderLength + 8), ~sequence);
        return packet;
    }
}
