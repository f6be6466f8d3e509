using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Wire;
using Xunit;

namespace FastRelay.Tests.Quic.Robustness;

/// <summary>RFC 9000 §14.1: the 1200-byte minimum applies to the UDP datagram that carries a client Initial, not to the packet.</summary>
public class InitialDatagramSizeTests
{
    [Fact]
    public async Task A_short_Initial_coalesced_with_0RTT_into_a_1200_byte_datagram_is_answered()
    {
        await using var listener = await ServerEndpoints.ListenAsync();
        using var peer = new RawUdpPeer(listener.LocalEndPoint);
        var genuine = ClientInitials.Genuine(out var destination, out var source);
        var initial = ClientInitials.Seal(destination, source, 0, ClientInitials.ClientHelloFrames(genuine, destination));
        Assert.True(initial.Length < 900, $"the Initial alone should be well under 1200 bytes ({initial.Length})");

        // A 0-RTT packet fills the datagram to 1200 bytes (its contents cannot decrypt: the server has no ticket; it is dropped).
        var datagram = new byte[1200];
        initial.CopyTo(datagram, 0);
        int zeroRttLength = datagram.Length - initial.Length;
        var zeroRtt = datagram.AsSpan(initial.Length);
        int header = PacketHeaderWriter.WriteLongHeader(zeroRtt, QuicPacketType.ZeroRtt, QuicVersion.V1, destination.Span, source.Span, [], 0, 4,
            zeroRttLength - PacketHeaderWriter.GetLongHeaderLength(QuicPacketType.ZeroRtt, destination.Length, source.Length, 0, 4, 1000, 2), 2);
        Random.Shared.NextBytes(zeroRtt[header..]);
        Assert.True(PacketHeaderParser.TryParse(datagram.AsMemory(initial.Length), 8, out var parsed, out _) && parsed.PacketLength == zeroRttLength);

        peer.Send(datagram);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            var reply = peer.Receive(TimeSpan.FromSeconds(1));
            if (reply is not null && ServerEndpoints.ServerInitialPacketNumber(reply, destination) is not null) return;
        }
        Assert.Fail("the server never answered an Initial that arrived in a 1200-byte datagram with a 0-RTT packet");
    }
}
