using System.Security.Cryptography;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Crypto;

/// <summary>
/// Packet protection state of one direction at one encryption level: the AEAD (key + IV) and the header protection
/// key, derived from a traffic secret (RFC 9001 §5.1) with the labels of the connection's QUIC version. The 1-RTT secret
/// is kept for key updates: <see cref="DeriveNextGeneration"/> gives keys from "quic ku" ("quicv2 ku" in v2) that share
/// this header protection (§6.1, §5.4).
/// </summary>
public sealed class PacketKeys : IDisposable
{
    private readonly byte[] _secret;
    // The header protection key, shared by every generation (RFC 9001 §6.1): kept only so the kernel can be given it.
    private readonly byte[] _hpKey;
    private readonly bool _ownsHeaderProtection;
    // Set by Dispose, which zeroes the secret and the header protection key: an export after it would hand the kernel keys
    // derived from zeros without a word, so it throws instead.
    private volatile bool _disposed;

    public CipherSuite Suite { get; }
    public PacketAead Aead { get; }
    public HeaderProtection HeaderProtection { get; }
    /// <summary>0 for the first 1-RTT keys, incremented by each key update (its low bit is the Key Phase).</summary>
    public ulong Generation { get; }
    /// <summary>The QUIC version whose labels made these keys (and make the next generation).</summary>
    public uint Version { get; }

    private PacketKeys(CipherSuite suite, byte[] secret, byte[] hpKey, PacketAead aead, HeaderProtection hp, bool ownsHp, ulong generation, uint version)
    {
        _hpKey = hpKey;
        Suite = suite;
        Version = version;
        _secret = secret;
        Aead = aead;
        HeaderProtection = hp;
        _ownsHeaderProtection = ownsHp;
        Generation = generation;
    }

    public ReadOnlySpan<byte> Secret => _secret;

    public bool KeyPhase => (Generation & 1) != 0;

    public static PacketKeys FromSecret(CipherSuite suite, ReadOnlySpan<byte> secret, uint version = QuicVersion.V1)
    {
        if (secret.Length != suite.HashLength()) throw new ArgumentException($"{suite} secrets are {suite.HashLength()} bytes");
        Span<byte> key = stackalloc byte[32];
        Span<byte> iv = stackalloc byte[CipherSuiteInfo.IvLength];
        Span<byte> hp = stackalloc byte[32];
        QuicKeyDerivation.DerivePacketKeys(suite, secret, key, iv, hp, version);
        try
        {
            return new PacketKeys(suite, secret.ToArray(), hp[..suite.HeaderProtectionKeyLength()].ToArray(), new PacketAead(suite, key[..suite.KeyLength()], iv),
                HeaderProtection.Create(suite, hp[..suite.HeaderProtectionKeyLength()]), ownsHp: true, generation: 0, version);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            CryptographicOperations.ZeroMemory(hp);
        }
    }

    /// <summary>The Initial keys of both directions for the client's first Destination Connection ID (RFC 9001 §5.2).</summary>
    public static (PacketKeys Client, PacketKeys Server) CreateInitial(ReadOnlySpan<byte> clientDestinationConnectionId, uint version = QuicVersion.V1)
    {
        Span<byte> client = stackalloc byte[QuicKeyDerivation.InitialSecretLength];
        Span<byte> server = stackalloc byte[QuicKeyDerivation.InitialSecretLength];
        QuicKeyDerivation.DeriveInitialSecrets(clientDestinationConnectionId, client, server, version);
        var keys = (FromSecret(CipherSuite.Aes128GcmSha256, client, version), FromSecret(CipherSuite.Aes128GcmSha256, server, version));
        CryptographicOperations.ZeroMemory(client);
        CryptographicOperations.ZeroMemory(server);
        return keys;
    }

    /// <summary>The keys after a key update: new AEAD from the "quic ku" secret, same header protection.</summary>
    public PacketKeys DeriveNextGeneration()
    {
        var next = new byte[Suite.HashLength()];
        QuicKeyDerivation.DeriveNextSecret(Suite, _secret, next, Version);
        Span<byte> key = stackalloc byte[32];
        Span<byte> iv = stackalloc byte[CipherSuiteInfo.IvLength];
        var hash = Suite.Hash();
        var labels = QuicVersionSecrets.For(Version);
        HkdfLabel.ExpandLabel(hash, next, labels.KeyLabel, default, key[..Suite.KeyLength()]);
        HkdfLabel.ExpandLabel(hash, next, labels.IvLabel, default, iv);
        var aead = new PacketAead(Suite, key[..Suite.KeyLength()], iv);
        CryptographicOperations.ZeroMemory(key);
        return new PacketKeys(Suite, next, _hpKey.ToArray(), aead, HeaderProtection, ownsHp: false, Generation + 1, Version);
    }

    /// <summary>
    /// The raw AEAD key, IV and header protection key, for the one place that needs them outside this class: the kernel's
    /// packet protection of an encrypted fast-path connection (keys travel to it through bpf(2) maps only). Spans of
    /// <see cref="CipherSuiteInfo.KeyLength"/>, 12 and <see cref="CipherSuiteInfo.HeaderProtectionKeyLength"/> bytes;
    /// the caller zeroes them. Any number of exports of a live generation give the same bytes (the secret and the header
    /// protection key are only read: a connection that goes on a sealed slot again exports its keys again); a disposed
    /// (retired) generation throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void ExportKeys(Span<byte> key, Span<byte> iv, Span<byte> headerProtectionKey)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (key.Length != Suite.KeyLength() || iv.Length != CipherSuiteInfo.IvLength || headerProtectionKey.Length != Suite.HeaderProtectionKeyLength())
            throw new ArgumentException($"{Suite} exports a {Suite.KeyLength()}-byte key, a {CipherSuiteInfo.IvLength}-byte IV and a {Suite.HeaderProtectionKeyLength()}-byte header protection key");
        Span<byte> unusedHp = stackalloc byte[32];
        // Key and IV of any generation come from its secret with the "quic key" / "quic iv" labels (what DeriveNextGeneration does).
        QuicKeyDerivation.DerivePacketKeys(Suite, _secret, key, iv, unusedHp, Version);
        CryptographicOperations.ZeroMemory(unusedHp);
        _hpKey.CopyTo(headerProtectionKey);
    }

    /// <summary>Disposes the AEAD; the header protection only if these keys created it (not a key-update generation).</summary>
    public void Dispose()
    {
        _disposed = true;
        Aead.Dispose();
        if (_ownsHeaderProtection) HeaderProtection.Dispose();
        CryptographicOperations.ZeroMemory(_hpKey); // each generation holds its own copy
        CryptographicOperations.ZeroMemory(_secret);
    }
}
