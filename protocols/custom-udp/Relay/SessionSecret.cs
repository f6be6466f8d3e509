using System.Security.Cryptography;

namespace FastRelay.Protocols.CustomUdp.Relay;

/// <summary>
/// The secret that authenticates a subscriber's control messages after the handshake. The cookie proves the subscriber
/// could receive at its address once; after that, anyone who can send from that address (no need to see the relay's
/// answers) could otherwise unsubscribe it, lower its rate or make the relay flood it with repairs. The secret travels
/// once, in the REPLY to that address, so forging a message takes seeing the relay's traffic to the subscriber; 64 random
/// bits are not guessed blind.
/// </summary>
public static class SessionSecret
{
    public static ulong New()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        var secret = BitConverter.ToUInt64(bytes);
        return secret == 0 ? 1 : secret; // 0 is what a message without a session carries
    }

    /// <summary>Compared in constant time: how much of a guess matched must not show in the relay's timing.</summary>
    public static bool Matches(SubscriberSession session, ulong presented)
    {
        Span<byte> a = stackalloc byte[8], b = stackalloc byte[8];
        BitConverter.TryWriteBytes(a, session.Secret);
        BitConverter.TryWriteBytes(b, presented);
        return CryptographicOperations.FixedTimeEquals(a, b);
    }
}
