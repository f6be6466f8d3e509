using FastRelay.Protocols.Quic.Wire;
using Xunit;

namespace FastRelay.Tests.Quic.Robustness;

/// <summary>
/// The endpoint thread owns every connection's timers, so it must never block without a deadline. These tests talk to a
/// server through a raw socket that sends one genuine client Initial and then nothing: no datagram for an existing
/// connection ever arrives, so only the server's own timers can make it act.
/// </summary>
public class EndpointTimerTests
{
    [Fact]
    public async Task A_server_whose_handshake_flight_is_lost_retransmits_it_on_PTO()
    {
        await using var listener = await ServerEndpoints.ListenAsync();
        using var peer = new RawUdpPeer(listener.LocalEndPoint);
        peer.Send(ClientInitials.Genuine(out var destination, out _));

        // The first flight starts with Initial packet number 0; a later server Initial (number ≥ 1) can only be a PTO
        // probe, since the client never answered. RFC 9002 puts the first PTO near 1 s: allow 20.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        var numbers = new List<ulong>();
        while (DateTime.UtcNow < deadline)
        {
            var datagram = peer.Receive(TimeSpan.FromSeconds(1));
            if (datagram is null) continue;
            if (ServerEndpoints.ServerInitialPacketNumber(datagram, destination) is not { } number) continue;
            numbers.Add(number);
            if (number >= 1) return;
        }
        Assert.Fail($"the server never retransmitted its Initial (Initial packet numbers seen: {string.Join(",", numbers)})");
    }

    [Fact]
    public async Task A_half_open_connection_expires_without_any_further_datagram()
    {
        await using var listener = await ServerEndpoints.ListenAsync(o => o.IdleTimeout = TimeSpan.FromSeconds(1));
        using var peer = new RawUdpPeer(listener.LocalEndPoint);
        peer.Send(ClientInitials.Genuine(out _, out _));
        var reply = peer.Receive(TimeSpan.FromSeconds(10));
        Assert.NotNull(reply);
        var serverId = ServerEndpoints.SourceId(reply);

        // Stay silent well past the 1 s idle timeout, then address the server's id with a short header: a connection
        // that expired no longer owns the id, so the endpoint answers with a stateless reset (a short-header datagram).
        // A connection whose timers never ran still owns it and drops the packet silently.
        await Task.Delay(TimeSpan.FromSeconds(5));
        peer.Drain(TimeSpan.FromMilliseconds(100));
        var probe = new byte[100];
        Random.Shared.NextBytes(probe);
        probe[0] = (byte)(0x40 | (probe[0] & 0x3f));
        serverId.Span.CopyTo(probe.AsSpan(1));
        peer.Send(probe);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            var datagram = peer.Receive(TimeSpan.FromSeconds(1));
            if (datagram is not null && (datagram[0] & 0x80) == 0) return;
        }
        Assert.Fail("the half-open connection still owned its id 5 s after a 1 s idle timeout (no stateless reset)");
    }
}
