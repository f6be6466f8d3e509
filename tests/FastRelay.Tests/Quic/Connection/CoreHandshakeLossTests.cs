using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Wire;
using Xunit;

namespace FastRelay.Tests.Quic.Connection;

/// <summary>
/// Long handshake loss in virtual time. The server's handshake deadline exists to age out half-open state (clients
/// that never prove themselves); a client that has proved its address and keys with a Handshake packet must be able to
/// finish however often its Finished is lost, as against ngtcp2's server (seen in the 30 %-loss loop: the Finished lost
/// five times, through at 25 s, and our server had dropped the connection at 10 s).
/// </summary>
public sealed class CoreHandshakeLossTests
{
    [Fact]
    public void A_client_whose_finished_is_lost_for_longer_than_the_handshake_deadline_still_completes()
    {
        using var pair = new CorePair();
        long lossEnds = pair.Now + 20_000_000;    // twice the server's 10 s handshake deadline
        int finishedLost = 0, handshakeAcksThrough = 0;
        pair.Mutate = (toServer, bytes) =>
        {
            if (!toServer || pair.Now >= lossEnds) return;
            if (CarriesHandshakeCrypto(bytes, out int tagEnd)) { bytes[tagEnd - 1] ^= 0xff; finishedLost++; }   // AEAD fails: lost
            else if (HasHandshakePacket(bytes)) handshakeAcksThrough++;
        };
        Assert.True(pair.RunUntil(() => pair.Client.IsHandshakeComplete && pair.Server?.IsHandshakeComplete == true, limit: 60_000_000),
            CoreHandshakeTests.Describe(pair));
        Assert.True(pair.Now >= lossEnds, "the handshake completed while the Finished was still being lost");
        Assert.True(finishedLost >= 3, $"only {finishedLost} Finished datagrams were lost");
        Assert.True(handshakeAcksThrough >= 1, "no ACK-only Handshake packet reached the server: the test proved nothing");
        Assert.Equal(ConnectionPhase.Established, pair.Server!.Phase);
    }

    [Fact]
    public void A_client_that_never_sends_a_handshake_packet_is_dropped_at_the_deadline()
    {
        using var pair = new CorePair();
        // Every client datagram after its first Initial is lost: the server holds half-open state only.
        pair.Mutate = (toServer, bytes) =>
        {
            if (toServer && pair.DatagramsToServer > 1) bytes[^1] ^= 0xff;
        };
        pair.RunUntil(() => pair.Server?.Phase == ConnectionPhase.Closed, limit: 25_000_000);
        Assert.Equal(ConnectionPhase.Closed, pair.Server?.Phase);
        Assert.Equal("handshake timeout", pair.Server!.CloseInfo?.Reason);
    }

    /// <summary>
    /// Whether the datagram has a Handshake packet big enough to carry a CRYPTO frame (the client's Finished, 36 bytes
    /// plus framing and a 16-byte tag); an ACK-only Handshake packet is under 40 bytes of payload. Long-header lengths
    /// are not protected, so this reads them without keys.
    /// </summary>
    private static bool CarriesHandshakeCrypto(byte[] datagram, out int packetEnd)
    {
        packetEnd = 0;
        var packets = new CoalescedPackets(datagram, 8);
        int start = 0;
        while (packets.TryGetNext(out var header, out var packet))
        {
            if (header.IsLongHeader && header.Type == QuicPacketType.Handshake && header.Length > 40)
            {
                packetEnd = start + packet.Length;
                return true;
            }
            start = packets.Offset;
        }
        return false;
    }

    private static bool HasHandshakePacket(byte[] datagram)
    {
        var packets = new CoalescedPackets(datagram, 8);
        while (packets.TryGetNext(out var header, out _))
            if (header.IsLongHeader && header.Type == QuicPacketType.Handshake) return true;
        return false;
    }
}
