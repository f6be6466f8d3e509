using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace FastRelay.Protocols.Quic.Wire;

/// <summary>
/// QUIC transport parameters (RFC 9000 §18), carried in the TLS quic_transport_parameters extension (0x39). Values
/// default to the RFC defaults when absent. Decoding validates everything §18.2 and §7.3-7.4 ask for and reports
/// violations as TRANSPORT_PARAMETER_ERROR; unknown and reserved ids are skipped. Encoding writes ids in ascending order.
/// Decoded once per handshake, so this is a class (unlike the per-packet types).
/// </summary>
public sealed class TransportParameters
{
    public const ulong DefaultMaxUdpPayloadSize = 65527;
    public const ulong DefaultAckDelayExponent = 3;
    public const ulong DefaultMaxAckDelayMs = 25;
    public const ulong DefaultActiveConnectionIdLimit = 2;
    public const ulong MaxStreamsLimit = 1UL << 60;

    /// <summary>Server only: the Destination Connection ID of the client's first Initial.</summary>
    public ConnectionId? OriginalDestinationConnectionId { get; set; }
    /// <summary>Milliseconds; 0 disables the idle timeout.</summary>
    public ulong MaxIdleTimeout { get; set; }
    /// <summary>Server only.</summary>
    public UInt128? StatelessResetToken { get; set; }
    public ulong MaxUdpPayloadSize { get; set; } = DefaultMaxUdpPayloadSize;
    public ulong InitialMaxData { get; set; }
    public ulong InitialMaxStreamDataBidiLocal { get; set; }
    public ulong InitialMaxStreamDataBidiRemote { get; set; }
    public ulong InitialMaxStreamDataUni { get; set; }
    public ulong InitialMaxStreamsBidi { get; set; }
    public ulong InitialMaxStreamsUni { get; set; }
    public ulong AckDelayExponent { get; set; } = DefaultAckDelayExponent;
    /// <summary>Milliseconds, below 2^14.</summary>
    public ulong MaxAckDelay { get; set; } = DefaultMaxAckDelayMs;
    public bool DisableActiveMigration { get; set; }
    /// <summary>Server only.</summary>
    public PreferredAddress? PreferredAddress { get; set; }
    public ulong ActiveConnectionIdLimit { get; set; } = DefaultActiveConnectionIdLimit;
    public ConnectionId? InitialSourceConnectionId { get; set; }
    /// <summary>Server only, after a Retry.</summary>
    public ConnectionId? RetrySourceConnectionId { get; set; }
    /// <summary>RFC 9368 version_information (0x11): null when the peer sent none (decoding also takes the draft codepoint).</summary>
    public VersionInformation? VersionInformation { get; set; }
    /// <summary>Also send <see cref="VersionInformation"/> under the draft codepoint 0xff73db (for v2-draft peers).</summary>
    public bool SendDraftVersionInformation { get; set; }
    /// <summary>RFC 9221: present when DATAGRAM frames are accepted (the largest frame accepted, 0 meaning none).</summary>
    public ulong? MaxDatagramFrameSize { get; set; }
    /// <summary>0xBAAD: leave 1-RTT packets unprotected (only when both sides send it).</summary>
    public bool Disable1RttEncryption { get; set; }
    /// <summary>
    /// min_ack_delay in µs (draft-ietf-quic-ack-frequency §3): present when the endpoint accepts ACK_FREQUENCY and
    /// IMMEDIATE_ACK. Must not exceed <see cref="MaxAckDelay"/> (which is in ms): a peer's that does is a
    /// TRANSPORT_PARAMETER_ERROR.
    /// </summary>
    public ulong? MinAckDelay { get; set; }

    public int GetEncodedLength()
    {
        int length = 0;
        if (OriginalDestinationConnectionId is { } odcid) length += BytesParameterLength(TransportParameterId.OriginalDestinationConnectionId, odcid.Length);
        length += VarintParameterLength(TransportParameterId.MaxIdleTimeout, MaxIdleTimeout, 0);
        if (StatelessResetToken is not null) length += BytesParameterLength(TransportParameterId.StatelessResetToken, 16);
        length += VarintParameterLength(TransportParameterId.MaxUdpPayloadSize, MaxUdpPayloadSize, DefaultMaxUdpPayloadSize);
        length += VarintParameterLength(TransportParameterId.InitialMaxData, InitialMaxData, 0);
        length += VarintParameterLength(TransportParameterId.InitialMaxStreamDataBidiLocal, InitialMaxStreamDataBidiLocal, 0);
        length += VarintParameterLength(TransportParameterId.InitialMaxStreamDataBidiRemote, InitialMaxStreamDataBidiRemote, 0);
        length += VarintParameterLength(TransportParameterId.InitialMaxStreamDataUni, InitialMaxStreamDataUni, 0);
        length += VarintParameterLength(TransportParameterId.InitialMaxStreamsBidi, InitialMaxStreamsBidi, 0);
        length += VarintParameterLength(TransportParameterId.InitialMaxStreamsUni, InitialMaxStreamsUni, 0);
        length += VarintParameterLength(TransportParameterId.AckDelayExponent, AckDelayExponent, DefaultAckDelayExponent);
        length += VarintParameterLength(TransportParameterId.MaxAckDelay, MaxAckDelay, DefaultMaxAckDelayMs);
        if (DisableActiveMigration) length += BytesParameterLength(TransportParameterId.DisableActiveMigration, 0);
        if (PreferredAddress is { } preferred) length += BytesParameterLength(TransportParameterId.PreferredAddress, preferred.EncodedLength);
        length += VarintParameterLength(TransportParameterId.ActiveConnectionIdLimit, ActiveConnectionIdLimit, DefaultActiveConnectionIdLimit);
        if (InitialSourceConnectionId is { } iscid) length += BytesParameterLength(TransportParameterId.InitialSourceConnectionId, iscid.Length);
        if (RetrySourceConnectionId is { } rscid) length += BytesParameterLength(TransportParameterId.RetrySourceConnectionId, rscid.Length);
        if (VersionInformation is { } versions) length += BytesParameterLength(TransportParameterId.VersionInformation, versions.EncodedLength);
        if (MaxDatagramFrameSize is { } maxDatagram) length += VarintParameterLength(TransportParameterId.MaxDatagramFrameSize, maxDatagram, ulong.MaxValue);
        if (Disable1RttEncryption) length += BytesParameterLength(TransportParameterId.Disable1RttEncryption, 0);
        if (SendDraftVersionInformation && VersionInformation is { } draft)
            length += BytesParameterLength(TransportParameterId.VersionInformationDraft, draft.EncodedLength);
        if (MinAckDelay is { } minAckDelay) length += VarintParameterLength(TransportParameterId.MinAckDelay, minAckDelay, ulong.MaxValue);
        return length;
    }

    /// <summary>Writes the parameters (defaults omitted) and returns the length; throws on values no peer would accept.</summary>
    public int Write(Span<byte> destination)
    {
        ValidateForSending();
        var w = new QuicWriter(destination);
        if (OriginalDestinationConnectionId is { } odcid) WriteBytesParameter(ref w, TransportParameterId.OriginalDestinationConnectionId, odcid.Span);
        WriteVarintParameter(ref w, TransportParameterId.MaxIdleTimeout, MaxIdleTimeout, 0);
        if (StatelessResetToken is { } token)
        {
            Span<byte> bytes = stackalloc byte[16];
            BinaryPrimitives.WriteUInt128BigEndian(bytes, token);
            WriteBytesParameter(ref w, TransportParameterId.StatelessResetToken, bytes);
        }
        WriteVarintParameter(ref w, TransportParameterId.MaxUdpPayloadSize, MaxUdpPayloadSize, DefaultMaxUdpPayloadSize);
        WriteVarintParameter(ref w, TransportParameterId.InitialMaxData, InitialMaxData, 0);
        WriteVarintParameter(ref w, TransportParameterId.InitialMaxStreamDataBidiLocal, InitialMaxStreamDataBidiLocal, 0);
        WriteVarintParameter(ref w, TransportParameterId.InitialMaxStreamDataBidiRemote, InitialMaxStreamDataBidiRemote, 0);
        WriteVarintParameter(ref w, TransportParameterId.InitialMaxStreamDataUni, InitialMaxStreamDataUni, 0);
        WriteVarintParameter(ref w, TransportParameterId.InitialMaxStreamsBidi, InitialMaxStreamsBidi, 0);
        WriteVarintParameter(ref w, TransportParameterId.InitialMaxStreamsUni, InitialMaxStreamsUni, 0);
        WriteVarintParameter(ref w, TransportParameterId.AckDelayExponent, AckDelayExponent, DefaultAckDelayExponent);
        WriteVarintParameter(ref w, TransportParameterId.MaxAckDelay, MaxAckDelay, DefaultMaxAckDelayMs);
        if (DisableActiveMigration) WriteBytesParameter(ref w, TransportParameterId.DisableActiveMigration, default);
        if (PreferredAddress is { } preferred)
        {
            w.WriteVarint(TransportParameterId.PreferredAddress);
            w.WriteVarint((ulong)preferred.EncodedLength);
            WriteAddress(ref w, preferred.IPv4Address, 4);
            w.WriteUInt16(preferred.IPv4Port);
            WriteAddress(ref w, preferred.IPv6Address, 16);
            w.WriteUInt16(preferred.IPv6Port);
            var id = preferred.ConnectionId;
            w.WriteByte((byte)id.Length);
            w.WriteBytes(id.Span);
            BinaryPrimitives.WriteUInt128BigEndian(w.Reserve(16), preferred.StatelessResetToken);
        }
        WriteVarintParameter(ref w, TransportParameterId.ActiveConnectionIdLimit, ActiveConnectionIdLimit, DefaultActiveConnectionIdLimit);
        if (InitialSourceConnectionId is { } iscid) WriteBytesParameter(ref w, TransportParameterId.InitialSourceConnectionId, iscid.Span);
        if (RetrySourceConnectionId is { } rscid) WriteBytesParameter(ref w, TransportParameterId.RetrySourceConnectionId, rscid.Span);
        if (VersionInformation is { } versions)
        {
            w.WriteVarint(TransportParameterId.VersionInformation);
            w.WriteVarint((ulong)versions.EncodedLength);
            versions.Write(w.Reserve(versions.EncodedLength));
        }
        if (MaxDatagramFrameSize is { } maxDatagram) WriteVarintParameter(ref w, TransportParameterId.MaxDatagramFrameSize, maxDatagram, ulong.MaxValue);
        if (Disable1RttEncryption) WriteBytesParameter(ref w, TransportParameterId.Disable1RttEncryption, default);
        if (SendDraftVersionInformation && VersionInformation is { } draft)
        {
            w.WriteVarint(TransportParameterId.VersionInformationDraft);
            w.WriteVarint((ulong)draft.EncodedLength);
            draft.Write(w.Reserve(draft.EncodedLength));
        }
        if (MinAckDelay is { } minAckDelay) WriteVarintParameter(ref w, TransportParameterId.MinAckDelay, minAckDelay, ulong.MaxValue);
        return w.Position;
    }

    public byte[] Encode()
    {
        var bytes = new byte[GetEncodedLength()];
        Write(bytes);
        return bytes;
    }

    private void ValidateForSending()
    {
        if (MaxUdpPayloadSize < 1200) throw new InvalidOperationException("max_udp_payload_size below 1200");
        if (AckDelayExponent > 20) throw new InvalidOperationException("ack_delay_exponent above 20");
        if (MaxAckDelay >= 1 << 14) throw new InvalidOperationException("max_ack_delay of 2^14 or more");
        if (ActiveConnectionIdLimit < 2) throw new InvalidOperationException("active_connection_id_limit below 2");
        if (InitialMaxStreamsBidi > MaxStreamsLimit || InitialMaxStreamsUni > MaxStreamsLimit) throw new InvalidOperationException("initial_max_streams above 2^60");
        if (PreferredAddress is { ConnectionId.Length: 0 }) throw new InvalidOperationException("preferred_address with an empty connection id");
        if (MinAckDelay > MaxAckDelay * 1000) throw new InvalidOperationException("min_ack_delay above max_ack_delay");
    }

    /// <summary>
    /// Decodes the parameters a peer sent. <paramref name="sender"/> is the peer's role: a client sending a server-only
    /// parameter is a TRANSPORT_PARAMETER_ERROR. With <paramref name="requireConnectionIds"/> the §7.3 presence rules
    /// apply (initial_source_connection_id from both, original_destination_connection_id from the server); comparing
    /// their values with what was seen on the wire is the connection's job.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> data, QuicPerspective sender, out TransportParameters parameters, out QuicError error,
        bool requireConnectionIds = true)
    {
        parameters = new TransportParameters();
        // Duplicate detection for the ids this implementation understands (0x00-0x11, 0x20, 0xBAAD and min_ack_delay).
        ulong seen = 0;
        bool seenBaad = false, seenMinAckDelay = false;
        VersionInformation? draftVersions = null;
        int position = 0;
        while (position < data.Length)
        {
            if (!QuicVarint.TryRead(data[position..], out ulong id, out int n1) ||
                !QuicVarint.TryRead(data[(position + n1)..], out ulong length, out int n2))
                return Fail("transport parameter id or length truncated", out error);
            position += n1 + n2;
            if (length > (ulong)(data.Length - position)) return Fail("transport parameter value truncated", out error);
            var value = data.Slice(position, (int)length);
            position += (int)length;

            if (id == TransportParameterId.VersionInformationDraft)
            {
                if (draftVersions is not null) return Fail("duplicate transport parameter", out error);
                if (!Wire.VersionInformation.TryRead(value, out draftVersions)) return Fail("version_information (draft) malformed", out error);
                continue;
            }
            // Unknown ids and reserved ones (31 * N + 27) are ignored.
            bool known = id <= TransportParameterId.VersionInformation || id == TransportParameterId.MaxDatagramFrameSize
                || id == TransportParameterId.Disable1RttEncryption || id == TransportParameterId.MinAckDelay;
            if (!known) continue;
            if (id == TransportParameterId.Disable1RttEncryption)
            {
                if (seenBaad) return Fail("duplicate transport parameter", out error);
                seenBaad = true;
            }
            else if (id == TransportParameterId.MinAckDelay)
            {
                if (seenMinAckDelay) return Fail("duplicate transport parameter", out error);
                seenMinAckDelay = true;
            }
            else
            {
                if ((seen & (1UL << (int)id)) != 0) return Fail("duplicate transport parameter", out error);
                seen |= 1UL << (int)id;
            }

            if (sender == QuicPerspective.Client && id is TransportParameterId.OriginalDestinationConnectionId or TransportParameterId.StatelessResetToken
                    or TransportParameterId.PreferredAddress or TransportParameterId.RetrySourceConnectionId)
                return Fail("server-only transport parameter sent by a client", out error);

            if (!parameters.TryApply(id, value, out error)) return false;
        }

        parameters.VersionInformation ??= draftVersions;
        // draft-ietf-quic-ack-frequency §3: checked once both are known (they may come in either order); µs against ms.
        if (parameters.MinAckDelay is { } minAckDelay && minAckDelay > parameters.MaxAckDelay * 1000)
            return Fail("min_ack_delay greater than max_ack_delay", out error);
        // RFC 9368 §4: a client's chosen version must be among its available versions.
        if (sender == QuicPerspective.Client && parameters.VersionInformation is { } info && !info.Offers(info.ChosenVersion))
            return Fail("version_information: the chosen version is not among the available versions", out error);
        if (requireConnectionIds)
        {
            if (parameters.InitialSourceConnectionId is null) return Fail("initial_source_connection_id missing", out error);
            if (sender == QuicPerspective.Server && parameters.OriginalDestinationConnectionId is null)
                return Fail("original_destination_connection_id missing", out error);
        }
        error = default;
        return true;
    }

    private bool TryApply(ulong id, ReadOnlySpan<byte> value, out QuicError error)
    {
        error = default;
        switch (id)
        {
            case TransportParameterId.OriginalDestinationConnectionId:
                if (!ConnectionId.TryCreate(value, out var odcid)) return Fail("original_destination_connection_id longer than 20 bytes", out error);
                OriginalDestinationConnectionId = odcid;
                return true;
            case TransportParameterId.InitialSourceConnectionId:
                if (!ConnectionId.TryCreate(value, out var iscid)) return Fail("initial_source_connection_id longer than 20 bytes", out error);
                InitialSourceConnectionId = iscid;
                return true;
            case TransportParameterId.RetrySourceConnectionId:
                if (!ConnectionId.TryCreate(value, out var rscid)) return Fail("retry_source_connection_id longer than 20 bytes", out error);
                RetrySourceConnectionId = rscid;
                return true;
            case TransportParameterId.StatelessResetToken:
                if (value.Length != 16) return Fail("stateless_reset_token not 16 bytes", out error);
                StatelessResetToken = BinaryPrimitives.ReadUInt128BigEndian(value);
                return true;
            case TransportParameterId.DisableActiveMigration:
                if (!value.IsEmpty) return Fail("disable_active_migration with a value", out error);
                DisableActiveMigration = true;
                return true;
            case TransportParameterId.Disable1RttEncryption:
                if (!value.IsEmpty) return Fail("disable_1rtt_encryption with a value", out error);
                Disable1RttEncryption = true;
                return true;
            case TransportParameterId.PreferredAddress:
                return TryReadPreferredAddress(value, out error);
            case TransportParameterId.VersionInformation:
                // RFC 9368 §4: a malformed one is a TRANSPORT_PARAMETER_ERROR in v1 (and v2).
                if (!Wire.VersionInformation.TryRead(value, out var versions)) return Fail("version_information malformed or with a zero version", out error);
                VersionInformation = versions;
                return true;
        }

        if (!QuicVarint.TryRead(value, out ulong number, out int used) || used != value.Length)
            return Fail("integer transport parameter malformed", out error);
        switch (id)
        {
            case TransportParameterId.MaxIdleTimeout: MaxIdleTimeout = number; break;
            case TransportParameterId.MaxUdpPayloadSize:
                if (number < 1200) return Fail("max_udp_payload_size below 1200", out error);
                MaxUdpPayloadSize = number;
                break;
            case TransportParameterId.InitialMaxData: InitialMaxData = number; break;
            case TransportParameterId.InitialMaxStreamDataBidiLocal: InitialMaxStreamDataBidiLocal = number; break;
            case TransportParameterId.InitialMaxStreamDataBidiRemote: InitialMaxStreamDataBidiRemote = number; break;
            case TransportParameterId.InitialMaxStreamDataUni: InitialMaxStreamDataUni = number; break;
            case TransportParameterId.InitialMaxStreamsBidi:
                if (number > MaxStreamsLimit) return Fail("initial_max_streams_bidi above 2^60", out error);
                InitialMaxStreamsBidi = number;
                break;
            case TransportParameterId.InitialMaxStreamsUni:
                if (number > MaxStreamsLimit) return Fail("initial_max_streams_uni above 2^60", out error);
                InitialMaxStreamsUni = number;
                break;
            case TransportParameterId.AckDelayExponent:
                if (number > 20) return Fail("ack_delay_exponent above 20", out error);
                AckDelayExponent = number;
                break;
            case TransportParameterId.MaxAckDelay:
                if (number >= 1 << 14) return Fail("max_ack_delay of 2^14 or more", out error);
                MaxAckDelay = number;
                break;
            case TransportParameterId.ActiveConnectionIdLimit:
                if (number < 2) return Fail("active_connection_id_limit below 2", out error);
                ActiveConnectionIdLimit = number;
                break;
            case TransportParameterId.MaxDatagramFrameSize: MaxDatagramFrameSize = number; break;
            case TransportParameterId.MinAckDelay: MinAckDelay = number; break;
            default: break;
        }
        return true;
    }

    private bool TryReadPreferredAddress(ReadOnlySpan<byte> value, out QuicError error)
    {
        if (value.Length < PreferredAddress.MinEncodedLength) return Fail("preferred_address truncated", out error);
        var v4 = new IPAddress(value[..4]);
        ushort v4Port = BinaryPrimitives.ReadUInt16BigEndian(value[4..]);
        var v6 = new IPAddress(value.Slice(6, 16));
        ushort v6Port = BinaryPrimitives.ReadUInt16BigEndian(value[22..]);
        int cidLength = value[24];
        if (cidLength is 0 or > ConnectionId.MaxLength) return Fail("preferred_address connection id length outside 1..20", out error);
        if (value.Length != PreferredAddress.MinEncodedLength + cidLength) return Fail("preferred_address length mismatch", out error);
        var cid = new ConnectionId(value.Slice(25, cidLength));
        var token = BinaryPrimitives.ReadUInt128BigEndian(value[(25 + cidLength)..]);
        PreferredAddress = new PreferredAddress(v4, v4Port, v6, v6Port, cid, token);
        error = default;
        return true;
    }

    private static bool Fail(string reason, out QuicError error)
    {
        error = QuicError.TransportParameter(reason);
        return false;
    }

    private static int VarintParameterLength(ulong id, ulong value, ulong defaultValue) =>
        value == defaultValue ? 0 : QuicVarint.GetLength(id) + 1 + QuicVarint.GetLength(value);

    private static int BytesParameterLength(ulong id, int length) =>
        QuicVarint.GetLength(id) + QuicVarint.GetLength((ulong)length) + length;

    private static void WriteVarintParameter(ref QuicWriter w, ulong id, ulong value, ulong defaultValue)
    {
        if (value == defaultValue) return;
        w.WriteVarint(id);
        w.WriteVarint((ulong)QuicVarint.GetLength(value));
        w.WriteVarint(value);
    }

    private static void WriteBytesParameter(ref QuicWriter w, ulong id, scoped ReadOnlySpan<byte> value)
    {
        w.WriteVarint(id);
        w.WriteVarintPrefixedBytes(value);
    }

    private static void WriteAddress(ref QuicWriter w, IPAddress? address, int length)
    {
        var slot = w.Reserve(length);
        if (address is null) { slot.Clear(); return; }
        var expected = length == 4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        if (address.AddressFamily != expected) throw new InvalidOperationException($"preferred_address expects {expected}");
        address.TryWriteBytes(slot, out _);
    }
}
