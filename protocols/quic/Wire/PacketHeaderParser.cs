namespace FastRelay.Protocols.Quic.Wire;

/// <summary>
/// Reads packet headers (RFC 9000 §17, invariants RFC 8999). Malformed headers yield a <see cref="QuicError.Discard"/>
/// error: the packet (and, for long headers, the rest of the datagram) is dropped without closing the connection.
/// </summary>
public static class PacketHeaderParser
{
    /// <summary>RFC 8999 §5.1: connection ids of versions other than v1 may be up to 255 bytes.</summary>
    public const int MaxInvariantConnectionIdLength = 255;
    public const int RetryIntegrityTagLength = 16;

    /// <summary>
    /// Parses the first packet in <paramref name="datagram"/>. Short headers have no length for the destination
    /// connection id on the wire: the endpoint uses a fixed length for the ids it issues,
    /// <paramref name="shortHeaderConnectionIdLength"/>.
    /// </summary>
    public static bool TryParse(ReadOnlyMemory<byte> datagram, int shortHeaderConnectionIdLength, out PacketHeader header, out QuicError error)
    {
        header = default;
        var reader = new QuicReader(datagram);
        if (!reader.TryReadByte(out byte first)) { error = QuicError.DropPacket("empty packet"); return false; }
        if ((first & 0x80) == 0) return TryParseShort(datagram, first, shortHeaderConnectionIdLength, out header, out error);

        if (!reader.TryReadUInt32(out uint version)) { error = QuicError.DropPacket("long header truncated before version"); return false; }
        int maxCid = QuicVersion.IsSupported(version) ? ConnectionId.MaxLength : MaxInvariantConnectionIdLength;
        if (!TryReadConnectionId(ref reader, maxCid, out var dcid) || !TryReadConnectionId(ref reader, maxCid, out var scid))
        {
            error = QuicError.DropPacket("long header connection id truncated or too long");
            return false;
        }

        if (version == QuicVersion.Negotiation)
        {
            var versions = reader.ReadToEnd();
            if (versions.Length == 0 || versions.Length % 4 != 0)
            {
                error = QuicError.DropPacket("version negotiation list empty or not a multiple of 4 bytes");
                return false;
            }
            header = new PacketHeader
            {
                FirstByte = first, Type = QuicPacketType.VersionNegotiation, Version = version,
                DestinationConnectionId = dcid, SourceConnectionId = scid, SupportedVersions = versions,
                PacketLength = datagram.Length,
            };
            error = default;
            return true;
        }

        if (!QuicVersion.IsSupported(version))
        {
            header = new PacketHeader
            {
                FirstByte = first, Type = QuicPacketType.UnsupportedVersion, Version = version,
                DestinationConnectionId = dcid, SourceConnectionId = scid, PacketLength = datagram.Length,
            };
            error = default;
            return true;
        }

        if ((first & 0x40) == 0) { error = QuicError.DropPacket("fixed bit is 0"); return false; }
        var type = QuicVersion.ToPacketType(first >> 4, version);

        if (type == QuicPacketType.Retry)
        {
            if (reader.Remaining < RetryIntegrityTagLength + 1)
            {
                error = QuicError.DropPacket("retry packet without token or integrity tag");
                return false;
            }
            reader.TryReadBytes((ulong)(reader.Remaining - RetryIntegrityTagLength), out var retryToken);
            var tag = reader.ReadToEnd();
            header = new PacketHeader
            {
                FirstByte = first, Type = type, Version = version, DestinationConnectionId = dcid, SourceConnectionId = scid,
                Token = retryToken, RetryIntegrityTag = tag, PacketLength = datagram.Length,
            };
            error = default;
            return true;
        }

        ReadOnlyMemory<byte> token = default;
        if (type == QuicPacketType.Initial && !reader.TryReadVarintPrefixedBytes(out token))
        {
            error = QuicError.DropPacket("initial token truncated");
            return false;
        }
        if (!reader.TryReadVarint(out ulong length)) { error = QuicError.DropPacket("length field truncated"); return false; }
        if (length > (ulong)reader.Remaining) { error = QuicError.DropPacket("length field exceeds the datagram"); return false; }
        if (length < 1) { error = QuicError.DropPacket("length field smaller than a packet number"); return false; }

        header = new PacketHeader
        {
            FirstByte = first, Type = type, Version = version, DestinationConnectionId = dcid, SourceConnectionId = scid,
            Token = token, PacketNumberOffset = reader.Position, Length = length, PacketLength = reader.Position + (int)length,
        };
        error = default;
        return true;
    }

    private static bool TryParseShort(ReadOnlyMemory<byte> datagram, byte first, int cidLength, out PacketHeader header, out QuicError error)
    {
        header = default;
        if ((first & 0x40) == 0) { error = QuicError.DropPacket("fixed bit is 0"); return false; }
        if ((uint)cidLength > ConnectionId.MaxLength) throw new ArgumentOutOfRangeException(nameof(cidLength));
        // At least one packet number byte must follow the connection id.
        if (datagram.Length < 1 + cidLength + 1) { error = QuicError.DropPacket("short header truncated"); return false; }
        header = new PacketHeader
        {
            FirstByte = first, Type = QuicPacketType.OneRtt, DestinationConnectionId = datagram.Slice(1, cidLength),
            PacketNumberOffset = 1 + cidLength, PacketLength = datagram.Length,
        };
        error = default;
        return true;
    }

    private static bool TryReadConnectionId(ref QuicReader reader, int maxLength, out ReadOnlyMemory<byte> id)
    {
        id = default;
        return reader.TryReadByte(out byte length) && length <= maxLength && reader.TryReadBytes(length, out id);
    }

    /// <summary>
    /// Reads just the destination connection id of a datagram's first packet, for routing to a connection
    /// (RFC 8999: valid for any version).
    /// </summary>
    public static bool TryGetDestinationConnectionId(ReadOnlySpan<byte> datagram, int shortHeaderConnectionIdLength, out ReadOnlySpan<byte> dcid)
    {
        dcid = default;
        if (datagram.IsEmpty) return false;
        if ((datagram[0] & 0x80) == 0)
        {
            if (datagram.Length < 1 + shortHeaderConnectionIdLength) return false;
            dcid = datagram.Slice(1, shortHeaderConnectionIdLength);
            return true;
        }
        if (datagram.Length < 6) return false;
        int length = datagram[5];
        if (datagram.Length < 6 + length) return false;
        dcid = datagram.Slice(6, length);
        return true;
    }
}
