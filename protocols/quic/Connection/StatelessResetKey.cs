using System.Buffers.Binary;
using System.Security.Cryptography;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Connection;

/// <summary>
/// Derives the stateless reset token of a connection id from an endpoint secret (RFC 9000 §10.3.2): an endpoint that
/// lost a connection's state can still compute the token for a packet addressed to one of its ids and reset the peer.
/// </summary>
public sealed class StatelessResetKey
{
    public const int TokenLength = 16;
    /// <summary>Smallest stateless reset we send: shorter than the packet that triggered it is required, and 21 bytes
    /// is the minimum that still looks like a short-header packet (§10.3).</summary>
    public const int MinimumPacketLength = 21;

    private readonly byte[] _key;

    public StatelessResetKey(ReadOnlySpan<byte> key) => _key = key.ToArray();

    public static StatelessResetKey CreateRandom() => new(RandomNumberGenerator.GetBytes(32));

    public UInt128 TokenFor(in ConnectionId connectionId)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(_key, connectionId.Span, mac);
        return BinaryPrimitives.ReadUInt128BigEndian(mac);
    }

    /// <summary>
    /// Writes a stateless reset answering a packet of <paramref name="triggerLength"/> bytes: random bytes that look like
    /// a short header, ending in the token. Returns 0 when the trigger is too small to answer without amplification loops.
    /// </summary>
    public int WriteReset(Span<byte> destination, in ConnectionId connectionId, int triggerLength)
    {
        int length = Math.Min(triggerLength - 1, 43);
        if (length < MinimumPacketLength || destination.Length < length) return 0;
        RandomNumberGenerator.Fill(destination[..(length - TokenLength)]);
        destination[0] = (byte)((destination[0] & 0x3f) | 0x40);
        BinaryPrimitives.WriteUInt128BigEndian(destination.Slice(length - TokenLength, TokenLength), TokenFor(connectionId));
        return length;
    }
}
