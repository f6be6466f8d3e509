namespace FastRelay.Protocols.Quic.Wire;

/// <summary>
/// The header of one QUIC packet as read before header protection is removed (RFC 9000 §17): everything up to the
/// (still protected) packet number. Byte strings are zero-copy slices of the datagram.
/// <para>For Initial, 0-RTT and Handshake packets <see cref="PacketLength"/> is the Length field plus the header,
/// which is how coalesced packets are split (§12.2); for short header, Retry, Version Negotiation and unsupported
/// versions the packet runs to the end of the datagram.</para>
/// </summary>
public readonly struct PacketHeader
{
    /// <summary>Byte 0 as received (its low bits are still masked by header protection).</summary>
    public byte FirstByte { get; init; }
    public QuicPacketType Type { get; init; }
    /// <summary>0 for short headers (whose version is implied by the connection).</summary>
    public uint Version { get; init; }
    public ReadOnlyMemory<byte> DestinationConnectionId { get; init; }
    /// <summary>Empty for short headers.</summary>
    public ReadOnlyMemory<byte> SourceConnectionId { get; init; }
    /// <summary>Initial: the token (possibly empty). Retry: the retry token.</summary>
    public ReadOnlyMemory<byte> Token { get; init; }
    /// <summary>Retry only: the 16-byte Retry Integrity Tag.</summary>
    public ReadOnlyMemory<byte> RetryIntegrityTag { get; init; }
    /// <summary>Version Negotiation only: the supported versions, 4 bytes each.</summary>
    public ReadOnlyMemory<byte> SupportedVersions { get; init; }
    /// <summary>Offset of the packet number from the start of this packet (0 when there is none).</summary>
    public int PacketNumberOffset { get; init; }
    /// <summary>Long headers with a packet number: the Length field (packet number + protected payload).</summary>
    public ulong Length { get; init; }
    /// <summary>Bytes of the datagram this packet occupies, header included.</summary>
    public int PacketLength { get; init; }

    public bool IsLongHeader => (FirstByte & 0x80) != 0;
    public bool HasPacketNumber => Type.HasPacketNumber();

    public int SupportedVersionCount => SupportedVersions.Length / 4;

    public uint GetSupportedVersion(int index) =>
        System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(SupportedVersions.Span.Slice(index * 4, 4));
}
