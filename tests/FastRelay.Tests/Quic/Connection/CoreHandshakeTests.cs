using Xunit;
using FastRelay.Protocols.Quic.Connection;

namespace FastRelay.Tests.Quic.Connection;

public sealed class CoreHandshakeTests
{
    [Fact]
    public void Client_and_server_cores_complete_the_handshake_and_agree_on_alpn()
    {
        using var pair = new CorePair();
        Assert.True(pair.RunUntil(() => pair.Client.IsHandshakeComplete && pair.Server?.IsHandshakeComplete == true), Describe(pair));
        Assert.Equal("test", pair.Client.NegotiatedApplicationProtocol);
        Assert.Equal(ConnectionPhase.Established, pair.Client.Phase);
        Assert.Equal(ConnectionPhase.Established, pair.Server!.Phase);
        // The client's first datagram is padded to 1200 bytes (RFC 9000 §14.1).
        Assert.True(pair.ServerBound[0].Length >= 1200);
    }

    [Fact]
    public void A_stream_carries_a_megabyte_byte_identical()
    {
        using var pair = new CorePair();
        Assert.True(pair.Handshake(), Describe(pair));
        var payload = new byte[1 << 20];
        new Random(7).NextBytes(payload);
        Assert.Equal(payload, pair.Transfer(payload).Received);
    }

    internal static string Describe(CorePair pair) =>
        $"client {pair.Client.Phase} {pair.Client.CloseInfo}; server {pair.Server?.Phase} {pair.Server?.CloseInfo}; datagrams c→s {pair.DatagramsToServer}, s→c {pair.DatagramsToClient}";
}
