using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Connection;

/// <summary>
/// Retry tokens (RFC 9000 §8.1.2): the server seals the client's address, the original destination connection id and
/// an expiry with an endpoint-local AES-GCM key, so it can validate the address on the second Initial without keeping
/// state. Token = nonce(12) | ciphertext | tag(16); plaintext = expiry(8) | odcid length(1) | odcid | retry scid length(1) | retry scid.
/// The address is bound as associated data, not stored.
/// </summary>
public sealed class AddressValidationTokens : IDisposable
{
    private const int NonceLength = 12;
    private const int TagLength = 16;
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(10);

    private readonly AesGcm _aead = new(RandomNumberGenerator.GetBytes(32), TagLength);

    public byte[] Create(IPEndPoint client, in ConnectionId originalDestination, in ConnectionId retrySource, DateTimeOffset now)
    {
        int plainLength = 8 + 1 + originalDestination.Length + 1 + retrySource.Length;
        var token = new byte[NonceLength + plainLength + TagLength];
        Span<byte> plain = stackalloc byte[plainLength];
        BinaryPrimitives.WriteInt64BigEndian(plain, (now + Lifetime).ToUnixTimeMilliseconds());
        plain[8] = (byte)originalDestination.Length;
        originalDestination.Span.CopyTo(plain[9..]);
        plain[9 + originalDestination.Length] = (byte)retrySource.Length;
        retrySource.Span.CopyTo(plain[(10 + originalDestination.Length)..]);
        RandomNumberGenerator.Fill(token.AsSpan(0, NonceLength));
        lock (_aead)
            _aead.Encrypt(token.AsSpan(0, NonceLength), plain, token.AsSpan(NonceLength, plainLength), token.AsSpan(NonceLength + plainLength), AddressBytes(client));
        return token;
    }

    /// <summary>Opens a token from a client Initial; false for anything not minted by us for this address, or expired.</summary>
    public bool TryValidate(ReadOnlySpan<byte> token, IPEndPoint client, DateTimeOffset now, out ConnectionId originalDestination, out ConnectionId retrySource)
    {
        originalDestination = default;
        retrySource = default;
        int plainLength = token.Length - NonceLength - TagLength;
        if (plainLength < 10 || plainLength > 8 + 2 + 2 * ConnectionId.MaxLength) return false;
        Span<byte> plain = stackalloc byte[plainLength];
        try
        {
            lock (_aead)
                _aead.Decrypt(token[..NonceLength], token.Slice(NonceLength, plainLength), token[(NonceLength + plainLength)..], plain, AddressBytes(client));
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
        if (BinaryPrimitives.ReadInt64BigEndian(plain) < now.ToUnixTimeMilliseconds()) return false;
        int odcidLength = plain[8];
        if (9 + odcidLength + 1 > plainLength) return false;
        int scidLength = plain[9 + odcidLength];
        if (10 + odcidLength + scidLength != plainLength) return false;
        return ConnectionId.TryCreate(plain.Slice(9, odcidLength), out originalDestination)
            && ConnectionId.TryCreate(plain.Slice(10 + odcidLength, scidLength), out retrySource);
    }

    private static byte[] AddressBytes(IPEndPoint client)
    {
        var address = client.Address.IsIPv4MappedToIPv6 ? client.Address.MapToIPv4() : client.Address;
        var bytes = new byte[(address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 4 : 16) + 2];
        address.TryWriteBytes(bytes, out int written);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(written), (ushort)client.Port);
        return bytes;
    }

    public void Dispose() => _aead.Dispose();
}
