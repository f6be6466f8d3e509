using System.Security.Cryptography;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Io;

/// <summary>
/// Decides whether a client's first Initial is worth a connection: it must decrypt with the Initial keys derived from
/// its own Destination Connection ID (RFC 9001 §5.2). Those keys are public, so this proves nothing about the sender —
/// but random bytes that merely look like an Initial (a flood of them once filled the whole backlog with connections
/// that could never progress) fail it, and they now cost one key derivation and one AEAD open instead of a connection.
/// <para>Decryption is in place and destroys the packet, so it runs on a copy in a scratch buffer; the connection
/// decrypts the original again. Used by the endpoint thread only (not thread-safe).</para>
/// </summary>
internal sealed class InitialAuthentication
{
    private readonly byte[] _scratch = new byte[65536];

    public bool Authenticates(ReadOnlySpan<byte> datagram, in PacketHeader header)
    {
        if (header.Type != QuicPacketType.Initial || header.PacketLength > datagram.Length || header.PacketLength > _scratch.Length) return false;
        var packet = _scratch.AsSpan(0, header.PacketLength);
        datagram[..header.PacketLength].CopyTo(packet);
        Span<byte> clientSecret = stackalloc byte[QuicKeyDerivation.InitialSecretLength];
        Span<byte> serverSecret = stackalloc byte[QuicKeyDerivation.InitialSecretLength];
        QuicKeyDerivation.DeriveInitialSecrets(header.DestinationConnectionId.Span, clientSecret, serverSecret, header.Version);
        try
        {
            // Only the client→server direction is needed here.
            using var keys = PacketKeys.FromSecret(CipherSuite.Aes128GcmSha256, clientSecret, header.Version);
            return PacketProtection.TryUnprotect(packet, header.PacketNumberOffset, null, keys, out _, out _, out _, out _);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(clientSecret);
            CryptographicOperations.ZeroMemory(serverSecret);
            packet.Clear();
        }
    }
}
