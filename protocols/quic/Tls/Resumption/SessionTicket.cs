using System.Buffers.Binary;
using System.Text;
using FastRelay.Protocols.Quic.Crypto;

namespace FastRelay.Protocols.Quic.Tls.Resumption;

/// <summary>
/// What a client keeps from a NewSessionTicket (RFC 8446 §4.6.1) to resume later: the opaque ticket (the PSK identity),
/// the PSK derived from the resumption master secret, the suite and ALPN it belongs to, the server's remembered transport
/// parameters (RFC 9000 §7.4.1) and whether 0-RTT is allowed (max_early_data_size 0xffffffff, RFC 9001 §4.6.1).
/// <see cref="Serialize"/> / <see cref="TryDeserialize"/> give a bounded binary form for session files; a damaged or
/// foreign file simply yields no ticket (the next connection makes a full handshake).
/// </summary>
public sealed class SessionTicket
{
    /// <summary>2 added the QUIC version; 1 (written before v2 existed) reads as a v1 ticket.</summary>
    private const byte FormatVersion = 2;
    /// <summary>RFC 8446 §4.6.1: identities are at most 2^16-1 bytes; ours are ~170.</summary>
    private const int MaxTicketLength = 0xFFFF;

    public required string ServerName { get; init; }
    public required string ApplicationProtocol { get; init; }
    public required CipherSuite CipherSuite { get; init; }
    public required byte[] Psk { get; init; }
    public required byte[] Ticket { get; init; }
    /// <summary>When the client received it (Unix milliseconds); the ticket age is counted from here.</summary>
    public required long ReceivedAtUnixMs { get; init; }
    public required uint LifetimeSeconds { get; init; }
    public required uint AgeAdd { get; init; }
    /// <summary>The server allows 0-RTT with this ticket (it sent early_data with 0xffffffff).</summary>
    public required bool AllowsEarlyData { get; init; }
    public required RememberedTransportParameters ServerTransportParameters { get; init; }
    /// <summary>The QUIC version of the connection that received it (RFC 9369 §5: it resumes only that version).</summary>
    public uint QuicVersion { get; init; } = Wire.QuicVersion.V1;

    public bool IsExpired(long nowUnixMs) => nowUnixMs - ReceivedAtUnixMs >= LifetimeSeconds * 1000L || nowUnixMs < ReceivedAtUnixMs - 60_000;

    /// <summary>obfuscated_ticket_age (RFC 8446 §4.2.11.1): milliseconds since receipt plus age_add, modulo 2^32.</summary>
    public uint ObfuscatedAge(long nowUnixMs) => unchecked((uint)Math.Max(0, nowUnixMs - ReceivedAtUnixMs) + AgeAdd);

    public byte[] Serialize()
    {
        var name = Encoding.UTF8.GetBytes(ServerName);
        var alpn = Encoding.UTF8.GetBytes(ApplicationProtocol);
        if (name.Length > 255 || alpn.Length > 255 || Psk.Length > 255 || Ticket.Length > MaxTicketLength)
            throw new InvalidOperationException("ticket fields too long to serialize");
        var bytes = new byte[1 + 4 + 1 + name.Length + 1 + alpn.Length + 2 + 1 + Psk.Length + 2 + Ticket.Length + 8 + 4 + 4 + 1
            + RememberedTransportParameters.EncodedLength];
        var s = bytes.AsSpan();
        int p = 0;
        s[p++] = FormatVersion;
        BinaryPrimitives.WriteUInt32BigEndian(s[p..], QuicVersion); p += 4;
        s[p++] = (byte)name.Length; name.CopyTo(s[p..]); p += name.Length;
        s[p++] = (byte)alpn.Length; alpn.CopyTo(s[p..]); p += alpn.Length;
        BinaryPrimitives.WriteUInt16BigEndian(s[p..], (ushort)CipherSuite); p += 2;
        s[p++] = (byte)Psk.Length; Psk.CopyTo(s[p..]); p += Psk.Length;
        BinaryPrimitives.WriteUInt16BigEndian(s[p..], (ushort)Ticket.Length); p += 2;
        Ticket.CopyTo(s[p..]); p += Ticket.Length;
        BinaryPrimitives.WriteInt64BigEndian(s[p..], ReceivedAtUnixMs); p += 8;
        BinaryPrimitives.WriteUInt32BigEndian(s[p..], LifetimeSeconds); p += 4;
        BinaryPrimitives.WriteUInt32BigEndian(s[p..], AgeAdd); p += 4;
        s[p++] = AllowsEarlyData ? (byte)1 : (byte)0;
        ServerTransportParameters.Write(s[p..]);
        return bytes;
    }

    public static bool TryDeserialize(ReadOnlySpan<byte> s, out SessionTicket? ticket)
    {
        ticket = null;
        int p = 0;
        if (!TryByte(s, ref p, out byte version) || version is not (1 or FormatVersion)) return false;
        uint quicVersion = Wire.QuicVersion.V1;
        if (version == FormatVersion)
        {
            if (s.Length - p < 4) return false;
            quicVersion = BinaryPrimitives.ReadUInt32BigEndian(s[p..]); p += 4;
        }
        if (!TryVector(s, ref p, 1, out var name) || !TryVector(s, ref p, 1, out var alpn) || alpn.IsEmpty) return false;
        if (s.Length - p < 2) return false;
        var suite = (CipherSuite)BinaryPrimitives.ReadUInt16BigEndian(s[p..]); p += 2;
        if (!TryVector(s, ref p, 1, out var psk) || psk.Length != suite.HashLength()) return false;
        if (!TryVector(s, ref p, 2, out var identity) || identity.IsEmpty) return false;
        if (s.Length - p != 8 + 4 + 4 + 1 + RememberedTransportParameters.EncodedLength) return false;
        long received = BinaryPrimitives.ReadInt64BigEndian(s[p..]); p += 8;
        uint lifetime = BinaryPrimitives.ReadUInt32BigEndian(s[p..]); p += 4;
        uint ageAdd = BinaryPrimitives.ReadUInt32BigEndian(s[p..]); p += 4;
        byte early = s[p++];
        if (early > 1 || lifetime > Messages.NewSessionTicket.MaxLifetimeSeconds) return false;
        if (!RememberedTransportParameters.TryRead(s[p..], out var parameters)) return false;
        string serverName, protocol;
        try
        {
            var strict = new UTF8Encoding(false, true);
            serverName = strict.GetString(name);
            protocol = strict.GetString(alpn);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
        ticket = new SessionTicket
        {
            ServerName = serverName, ApplicationProtocol = protocol, CipherSuite = suite, Psk = psk.ToArray(), Ticket = identity.ToArray(),
            ReceivedAtUnixMs = received, LifetimeSeconds = lifetime, AgeAdd = ageAdd, AllowsEarlyData = early == 1,
            ServerTransportParameters = parameters, QuicVersion = quicVersion,
        };
        return true;
    }

    private static bool TryByte(ReadOnlySpan<byte> s, ref int p, out byte value)
    {
        value = 0;
        if (p >= s.Length) return false;
        value = s[p++];
        return true;
    }

    private static bool TryVector(ReadOnlySpan<byte> s, ref int p, int prefix, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (s.Length - p < prefix) return false;
        int length = prefix == 1 ? s[p] : BinaryPrimitives.ReadUInt16BigEndian(s[p..]);
        p += prefix;
        if (s.Length - p < length) return false;
        value = s.Slice(p, length);
        p += length;
        return true;
    }
}
