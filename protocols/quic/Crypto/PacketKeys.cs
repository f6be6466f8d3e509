using System.Security.Cryptography;

namespace FastRelay.Protocols.Quic.Crypto;

/// <summary>
/// Packet protection state of one direction at one encryption level: the AEAD (key + IV) and the header protection
/// key, derived from a traffic secret (RFC 9001 §5.1). The 1-RTT secret is kept for key updates:
/// <see cref="DeriveNextGeneration"/> gives keys from "quic ku" that share this header protection (§6.1, §5.4).
/// </summary>
public sealed class PacketKeys : IDisposable
{
    private readonly byte[] _secret;
    private readonly bool _ownsHeaderProtection;

    public CipherSuite Suite { get; }
    public PacketAead Aead { get; }
    public HeaderProtection HeaderProtection { get; }
    /// <summary>0 for the first 1-RTT keys, incremented by each key update (its low bit is the Key Phase).</summary>
    public ulong Generation { get; }

    private PacketKeys(CipherSuite suite, byte[] secret, PacketAead aead, HeaderProtection hp, bool ownsHp, ulong generation)
    {
        Suite = suite;
        _secret = secret;
        Aead = aead;
        HeaderProtection = hp;
        _ownsHeaderProtection = ownsHp;
        Generation = generation;
    }

    public ReadOnlySpan<byte> Secret => _secret;

    public bool KeyPhase => (Generation & 1) != 0;

    public static PacketKeys FromSecret(CipherSuite suite, ReadOnlySpan<byte> secret)
    {
        if (secret.Length != suite.HashLength()) throw new ArgumentException($"{suite} secrets are {suite.HashLength()} bytes");
        Span<byte> key = stackalloc byte[32];
        Span<byte> iv = stackalloc byte[CipherSuiteInfo.IvLength];
        Span<byte> hp = stackalloc byte[32];
        QuicKeyDerivation.DerivePacketKeys(suite, secret, key, iv, hp);
        try
        {
            return new PacketKeys(suite, secret.ToArray(), new PacketAead(suite, key[..suite.KeyLength()], iv),
                HeaderProtection.Create(suite, hp[..suite.HeaderProtectionKeyLength()]), ownsHp: true, generation: 0);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            CryptographicOperations.ZeroMemory(hp);
        }
    }

    /// <summary>The Initial keys of both directions for the client's first Destination Connection ID (RFC 9001 §5.2).</summary>
    public static (PacketKeys Client, PacketKeys Server) CreateInitial(ReadOnlySpan<byte> clientDestinationConnectionId)
    {
        Span<byte> client = stackalloc byte[QuicKeyDerivation.InitialSecretLength];
        Span<byte> server = stackalloc byte[QuicKeyDerivation.InitialSecretLength];
        QuicKeyDerivation.DeriveInitialSecrets(clientDestinationConnectionId, client, server);
        var keys = (FromSecret(CipherSuite.Aes128GcmSha256, client), FromSecret(CipherSuite.Aes128GcmSha256, server));
        CryptographicOperations.ZeroMemory(client);
        CryptographicOperations.ZeroMemory(server);
        return keys;
    }

    /// <summary>The keys after a key update: new AEAD from the "quic ku" secret, same header protection.</summary>
    public PacketKeys DeriveNextGeneration()
    {
        var next = new byte[Suite.HashLength()];
        QuicKeyDerivation.DeriveNextSecret(Suite, _secret, next);
        Span<byte> key = stackalloc byte[32];
        Span<byte> iv = stackalloc byte[CipherSuiteInfo.IvLength];
        var hash = Suite.Hash();
        HkdfLabel.ExpandLabel(hash, next, QuicKeyDerivation.KeyLabel, default, key[..Suite.KeyLength()]);
        HkdfLabel.ExpandLabel(hash, next, QuicKeyDerivation.IvLabel, default, iv);
        var aead = new PacketAead(Suite, key[..Suite.KeyLength()], iv);
        CryptographicOperations.ZeroMemory(key);
        return new PacketKeys(Suite, next, aead, HeaderProtection, ownsHp: false, Generation + 1);
    }

    /// <summary>Disposes the AEAD; the header protection only if these keys created it (not a key-update generation).</summary>
    public void Dispose()
    {
        Aead.Dispose();
        if (_ownsHeaderProtection) HeaderProtection.Dispose();
        CryptographicOperations.ZeroMemory(_secret);
    }
}
