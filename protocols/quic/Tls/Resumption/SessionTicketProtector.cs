using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using FastRelay.Protocols.Quic.Crypto;

namespace FastRelay.Protocols.Quic.Tls.Resumption;

/// <summary>What a server needs back from a ticket to resume (the decrypted content of a stateless ticket).</summary>
public sealed record ResumptionState(
    CipherSuite CipherSuite,
    byte[] Psk,
    string ApplicationProtocol,
    long IssuedAtUnixMs,
    uint AgeAdd,
    RememberedTransportParameters ServerTransportParameters,
    UInt128 TicketId,
    uint QuicVersion = Wire.QuicVersion.V1);

/// <summary>
/// Stateless session tickets (RFC 8446 §4.6.1, RFC 5077's idea): the ticket is the resumption state sealed with AES-256-GCM
/// under a key only this server (listener) knows, so the server keeps nothing per ticket. Layout:
/// <c>nonce(12) || AEAD(format, quic_version, suite, issued_at, age_add, psk, alpn, remembered transport parameters) || tag(16)</c>.
/// The QUIC version is the connection's (negotiated) one: a ticket resumes only a connection of that version (RFC 9369 §5).
/// A ticket that does not open (forged, corrupted, from another server or an older key) is simply not resumed: the
/// client gets a full handshake. Thread-safe (AesGcm is created per call; tickets are rare compared with packets).
/// Also owns the 0-RTT anti-replay guard, since both are per-server state.
/// </summary>
public sealed class SessionTicketProtector
{
    private const byte FormatVersion = 2;
    private const int NonceLength = 12;
    private const int TagLength = 16;
    /// <summary>Resumption is allowed for a day (RFC 8446 allows seven; shorter limits how long a stolen PSK stays useful).</summary>
    public const uint DefaultLifetimeSeconds = 24 * 3600;
    private static ReadOnlySpan<byte> AssociatedData => "FastRelay QUIC session ticket v1"u8;

    private readonly byte[] _key;

    public SessionTicketProtector(ReadOnlySpan<byte> key = default, uint lifetimeSeconds = DefaultLifetimeSeconds, TimeSpan? earlyDataWindow = null)
    {
        if (!key.IsEmpty && key.Length != 32) throw new ArgumentException("ticket keys are 32 bytes (AES-256)", nameof(key));
        _key = key.IsEmpty ? RandomNumberGenerator.GetBytes(32) : key.ToArray();
        LifetimeSeconds = Math.Min(lifetimeSeconds, Messages.NewSessionTicket.MaxLifetimeSeconds);
        ReplayGuard = new EarlyDataReplayGuard(earlyDataWindow ?? EarlyDataReplayGuard.DefaultWindow);
    }

    public uint LifetimeSeconds { get; }
    public EarlyDataReplayGuard ReplayGuard { get; }

    public byte[] Seal(ResumptionState state)
    {
        var alpn = Encoding.UTF8.GetBytes(state.ApplicationProtocol);
        if (alpn.Length > 255 || state.Psk.Length > 255) throw new ArgumentException("ALPN or PSK too long for a ticket");
        int plainLength = 1 + 4 + 2 + 8 + 4 + 1 + state.Psk.Length + 1 + alpn.Length + RememberedTransportParameters.EncodedLength;
        var plain = new byte[plainLength];
        var s = plain.AsSpan();
        int p = 0;
        s[p++] = FormatVersion;
        BinaryPrimitives.WriteUInt32BigEndian(s[p..], state.QuicVersion); p += 4;
        BinaryPrimitives.WriteUInt16BigEndian(s[p..], (ushort)state.CipherSuite); p += 2;
        BinaryPrimitives.WriteInt64BigEndian(s[p..], state.IssuedAtUnixMs); p += 8;
        BinaryPrimitives.WriteUInt32BigEndian(s[p..], state.AgeAdd); p += 4;
        s[p++] = (byte)state.Psk.Length; state.Psk.CopyTo(s[p..]); p += state.Psk.Length;
        s[p++] = (byte)alpn.Length; alpn.CopyTo(s[p..]); p += alpn.Length;
        state.ServerTransportParameters.Write(s[p..]);

        var ticket = new byte[NonceLength + plainLength + TagLength];
        var nonce = ticket.AsSpan(0, NonceLength);
        RandomNumberGenerator.Fill(nonce);
        using var aead = new AesGcm(_key, TagLength);
        aead.Encrypt(nonce, plain, ticket.AsSpan(NonceLength, plainLength), ticket.AsSpan(NonceLength + plainLength), AssociatedData);
        CryptographicOperations.ZeroMemory(plain);
        return ticket;
    }

    /// <summary>Opens a ticket; false for anything that does not authenticate or parse (never throws for content).</summary>
    public bool TryOpen(ReadOnlySpan<byte> ticket, out ResumptionState? state)
    {
        state = null;
        int plainLength = ticket.Length - NonceLength - TagLength;
        if (plainLength < 1 + 4 + 2 + 8 + 4 + 2 + RememberedTransportParameters.EncodedLength || plainLength > 1024) return false;
        var plain = new byte[plainLength];
        try
        {
            using var aead = new AesGcm(_key, TagLength);
            aead.Decrypt(ticket[..NonceLength], ticket.Slice(NonceLength, plainLength), ticket[^TagLength..], plain, AssociatedData);
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
        try
        {
            var s = plain.AsSpan();
            int p = 0;
            if (s[p++] != FormatVersion) return false;
            uint quicVersion = BinaryPrimitives.ReadUInt32BigEndian(s[p..]); p += 4;
            var suite = (CipherSuite)BinaryPrimitives.ReadUInt16BigEndian(s[p..]); p += 2;
            long issued = BinaryPrimitives.ReadInt64BigEndian(s[p..]); p += 8;
            uint ageAdd = BinaryPrimitives.ReadUInt32BigEndian(s[p..]); p += 4;
            int pskLength = s[p++];
            if (s.Length - p < pskLength + 1) return false;
            var psk = s.Slice(p, pskLength).ToArray(); p += pskLength;
            int alpnLength = s[p++];
            if (s.Length - p != alpnLength + RememberedTransportParameters.EncodedLength) return false;
            string alpn = Encoding.UTF8.GetString(s.Slice(p, alpnLength)); p += alpnLength;
            if (!RememberedTransportParameters.TryRead(s[p..], out var parameters)) return false;
            if (!suite.IsSupported() || psk.Length != suite.HashLength()) return false;
            var id = new UInt128(BinaryPrimitives.ReadUInt64BigEndian(ticket), BinaryPrimitives.ReadUInt32BigEndian(ticket[8..]));
            state = new ResumptionState(suite, psk, alpn, issued, ageAdd, parameters, id, quicVersion);
            return true;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }
}
