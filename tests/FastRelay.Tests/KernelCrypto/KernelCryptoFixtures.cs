using System.Buffers.Binary;
using System.Security.Cryptography;
using FastRelay.Bpf.Crypto;
using FastRelay.Protocols.Quic.Crypto;

namespace FastRelay.Tests.KernelCrypto;

/// <summary>
/// What the kernel crypto tests share: short-header packets in clear and as our QUIC stack seals them, keys from the
/// stack's own key schedule, and installing them into the kernel the way the relay's stack will.
/// </summary>
internal static class KernelCryptoFixtures
{
    public const int TagLength = PacketProtection.TagLength;

    /// <summary>A short-header packet in clear: 0x43 | key phase, connection id, 4-byte packet number, payload, room for
    /// the tag. The packet number offset is 1 + the connection id's length.</summary>
    public static byte[] ShortPlain(byte[] cid, uint pn, byte[] payload, bool keyPhase = false)
    {
        var packet = new byte[1 + cid.Length + 4 + payload.Length + TagLength];
        packet[0] = (byte)(0x43 | (keyPhase ? 0x04 : 0));
        cid.CopyTo(packet, 1);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(1 + cid.Length), pn);
        payload.CopyTo(packet, 1 + cid.Length + 4);
        return packet;
    }

    /// <summary>The same packet as the stack sends it: <see cref="PacketProtection.Protect"/> with its key phase.</summary>
    public static byte[] StackSeal(byte[] cid, uint pn, byte[] payload, PacketKeys keys)
    {
        var packet = ShortPlain(cid, pn, payload, keys.KeyPhase);
        PacketProtection.Protect(packet, 1 + cid.Length, pn, payload.Length, keys);
        return packet;
    }

    public static PacketKeys RandomKeys(CipherSuite suite = CipherSuite.Aes128GcmSha256) =>
        PacketKeys.FromSecret(suite, RandomNumberGenerator.GetBytes(suite.HashLength()));

    /// <summary>Installs the AEAD key and IV of <paramref name="keys"/> and the header protection key of
    /// <paramref name="hpFrom"/> (a key update keeps the first generation's, RFC 9001 §6), all derived by the stack's key
    /// schedule from the secrets (RFC 9001 §5.1).</summary>
    public static void Install(QuicKernelCrypto crypto, int slot, int phase, PacketKeys keys, PacketKeys? hpFrom = null)
    {
        int length = keys.Suite.KeyLength();
        Span<byte> key = stackalloc byte[length], iv = stackalloc byte[12], hp = stackalloc byte[length];
        Span<byte> unusedKey = stackalloc byte[length], unusedIv = stackalloc byte[12], unusedHp = stackalloc byte[length];
        QuicKeyDerivation.DerivePacketKeys(keys.Suite, keys.Secret, key, iv, unusedHp);
        QuicKeyDerivation.DerivePacketKeys(keys.Suite, (hpFrom ?? keys).Secret, unusedKey, unusedIv, hp);
        crypto.InstallKeys(slot, phase, key, iv, hp);
    }
}
