using Xunit;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Tests.Quic.Connection;

namespace FastRelay.Tests.Quic.Versions;

/// <summary>
/// QUIC v2 and compatible version negotiation (RFC 9368, RFC 9369 §4) between our two cores in memory: what the
/// packets on the wire say, not only what the cores report.
/// </summary>
public sealed class CoreVersionNegotiationTests
{
    /// <summary>The version field of every long-header packet in a datagram list, with its packet type.</summary>
    private static List<(QuicPacketType Type, uint Version)> LongHeaders(IEnumerable<byte[]> datagrams)
    {
        var seen = new List<(QuicPacketType, uint)>();
        foreach (var d in datagrams)
        {
            var packets = new CoalescedPackets(d, 8);
            while (packets.TryGetNext(out var header, out _))
                if (header.IsLongHeader) seen.Add((header.Type, header.Version));
        }
        return seen;
    }

    /// <summary>
    /// RFC 9368 §4: a client that connects again after Version Negotiation refused v1 must not accept a server whose
    /// version_information lists v1 (the Version Negotiation packet was forged: a downgrade). The same pair without the
    /// abandoned version completes, so the refusal comes from that check alone.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_second_attempt_after_version_negotiation_refuses_a_server_listing_the_refused_version(bool afterVersionNegotiation)
    {
        using var pair = new CorePair(
            client: c => { c.Versions = [QuicVersion.V1, QuicVersion.V2]; c.InitialVersion = QuicVersion.V2; c.AbandonedVersion = afterVersionNegotiation ? QuicVersion.V1 : null; },
            server: s => s.Versions = [QuicVersion.V1, QuicVersion.V2]);
        var completed = pair.Handshake();
        Assert.Equal(!afterVersionNegotiation, completed);
        if (afterVersionNegotiation)
        {
            Assert.Equal((ulong)QuicTransportError.VersionNegotiationError, pair.Client.CloseInfo!.Value.ErrorCode);
            Assert.Contains("downgrade", pair.Client.CloseInfo.Value.Reason);
        }
    }

    [Fact]
    public void A_v2_server_upgrades_a_v1_client_that_offers_v2_within_the_handshake()
    {
        using var pair = new CorePair(
            client: c => { c.Versions = [QuicVersion.V2, QuicVersion.V1]; c.InitialVersion = QuicVersion.V1; },
            server: s => s.Versions = [QuicVersion.V1, QuicVersion.V2]);
        Assert.True(pair.Handshake(), CoreHandshakeTests.Describe(pair));
        Assert.Equal(QuicVersion.V2, pair.Client.Version);
        Assert.Equal(QuicVersion.V2, pair.Server!.Version);
        Assert.Equal(QuicVersion.V1, pair.Client.OriginalVersion);

        // On the wire: the client's first flight is v1, every server packet is v2 (its ServerHello needs the client's
        // parameters, so nothing went out before the switch), and all client Handshake packets are v2.
        var toServer = LongHeaders(pair.ServerBound);
        var toClient = LongHeaders(pair.ClientBound);
        Assert.Equal((QuicPacketType.Initial, QuicVersion.V1), toServer[0]);
        Assert.NotEmpty(toClient);
        Assert.All(toClient, p => Assert.Equal(QuicVersion.V2, p.Version));
        Assert.All(toServer.Where(p => p.Type == QuicPacketType.Handshake), p => Assert.Equal(QuicVersion.V2, p.Version));
        Assert.Contains(toServer, p => p.Type == QuicPacketType.Handshake);

        // Data flows over 1-RTT keys made with v2's labels.
        var payload = new byte[100_000];
        new Random(3).NextBytes(payload);
        Assert.Equal(payload, pair.Transfer(payload).Received);

        // The server told the client what it chose, and the client checked it.
        Assert.Equal(QuicVersion.V2, pair.Client.PeerTransportParameters!.VersionInformation!.ChosenVersion);
        Assert.Equal(QuicVersion.V1, pair.Server.PeerTransportParameters!.VersionInformation!.ChosenVersion);
        Assert.Equal([QuicVersion.V2, QuicVersion.V1], pair.Server.PeerTransportParameters.VersionInformation.AvailableVersions);
    }

    [Fact]
    public void Key_updates_in_v2_keep_data_flowing()
    {
        // After an upgrade to v2, both ends derive the next 1-RTT generation with "quicv2 ku" (RFC 9369 §3.3.2).
        using var pair = new CorePair(
            client: c => c.Versions = [QuicVersion.V2, QuicVersion.V1],
            server: s => s.Versions = [QuicVersion.V1, QuicVersion.V2]);
        Assert.True(pair.Handshake(), CoreHandshakeTests.Describe(pair));
        Assert.Equal(QuicVersion.V2, pair.Client.Version);
        Assert.True(pair.Client.Streams.TryOpenStream(true, out ulong id));
        var received = new List<byte>();
        for (int round = 0; round < 3; round++)
        {
            var who = round % 2 == 0 ? pair.Client : pair.Server!;
            who.RequestKeyUpdate();
            pair.Client.Streams.Write(id, new byte[10_000], false);
            int expected = (round + 1) * 10_000;
            Assert.True(pair.RunUntil(() =>
            {
                CorePair.Drain(pair.Server!, id, received, out _);
                return received.Count == expected && pair.Client.KeyUpdateGeneration == (ulong)round + 1
                    && pair.Server!.KeyUpdateGeneration == (ulong)round + 1;
            }), $"round {round}: generations {pair.Client.KeyUpdateGeneration}/{pair.Server!.KeyUpdateGeneration}, received {received.Count}");
        }
    }

    [Fact]
    public void A_client_that_does_not_offer_v2_stays_on_v1_byte_for_byte()
    {
        using var pair = new CorePair(server: s => s.Versions = [QuicVersion.V1, QuicVersion.V2]);
        Assert.True(pair.Handshake(), CoreHandshakeTests.Describe(pair));
        Assert.Equal(QuicVersion.V1, pair.Client.Version);
        Assert.Equal(QuicVersion.V1, pair.Server!.Version);
        Assert.All(LongHeaders(pair.ServerBound.Concat(pair.ClientBound)), p => Assert.Equal(QuicVersion.V1, p.Version));
    }

    [Fact]
    public void A_v2_first_flight_completes_in_v2()
    {
        using var pair = new CorePair(
            client: c => { c.Versions = [QuicVersion.V2]; c.InitialVersion = QuicVersion.V2; },
            server: s => s.Versions = [QuicVersion.V1, QuicVersion.V2]);
        Assert.True(pair.Handshake(), CoreHandshakeTests.Describe(pair));
        Assert.Equal(QuicVersion.V2, pair.Server!.Version);
        Assert.All(LongHeaders(pair.ServerBound.Concat(pair.ClientBound)), p => Assert.Equal(QuicVersion.V2, p.Version));
        var payload = new byte[20_000];
        Assert.Equal(payload, pair.Transfer(payload).Received);
    }

    [Fact]
    public void A_server_without_v2_keeps_a_client_that_prefers_v2_on_v1()
    {
        using var pair = new CorePair(
            client: c => { c.Versions = [QuicVersion.V2, QuicVersion.V1]; c.InitialVersion = QuicVersion.V1; },
            server: s => s.Versions = [QuicVersion.V1]);
        Assert.True(pair.Handshake(), CoreHandshakeTests.Describe(pair));
        Assert.Equal(QuicVersion.V1, pair.Client.Version);
        Assert.All(LongHeaders(pair.ClientBound), p => Assert.Equal(QuicVersion.V1, p.Version));
    }

    [Fact]
    public void Upgrade_survives_loss_of_the_first_flights()
    {
        // Lose the client's first Initial and the server's first flight: the client retransmits in v1 until it hears v2,
        // the server reads v1 Initials with the keys it kept.
        using var pair = new CorePair(
            client: c => { c.Versions = [QuicVersion.V2, QuicVersion.V1]; },
            server: s => s.Versions = [QuicVersion.V1, QuicVersion.V2])
        { Lose = (toServer, index) => index == 0 };
        Assert.True(pair.Handshake(), CoreHandshakeTests.Describe(pair));
        Assert.Equal(QuicVersion.V2, pair.Client.Version);
        Assert.Equal(QuicVersion.V2, pair.Server!.Version);
    }

    [Fact]
    public void A_client_whose_chosen_version_contradicts_its_packets_is_closed_with_version_negotiation_error()
    {
        // The client's first flight says v1 in the header but its version_information claims v2 was chosen: the server
        // must close with VERSION_NEGOTIATION_ERROR (RFC 9368 §4). A client whose initial version is v1 but who lists only
        // v2 would be refused by our options, so the core is given settings that make exactly that lie.
        Assert.False(VersionNegotiation.TryChooseForServer(QuicVersion.V1, new VersionInformation(QuicVersion.V2, [QuicVersion.V2]),
            [QuicVersion.V1, QuicVersion.V2], out _, out var error));
        Assert.Equal(QuicTransportError.VersionNegotiationError, error.Code);
    }

    [Fact]
    public void The_server_follows_the_clients_preference_among_versions_it_speaks()
    {
        Assert.True(VersionNegotiation.TryChooseForServer(QuicVersion.V1, new VersionInformation(QuicVersion.V1, [QuicVersion.V2Draft, QuicVersion.V2, QuicVersion.V1]),
            [QuicVersion.V1, QuicVersion.V2], out uint negotiated, out _));
        Assert.Equal(QuicVersion.V2, negotiated);
        Assert.True(VersionNegotiation.TryChooseForServer(QuicVersion.V1, new VersionInformation(QuicVersion.V1, [QuicVersion.V1, QuicVersion.V2]),
            [QuicVersion.V1, QuicVersion.V2], out negotiated, out _));
        Assert.Equal(QuicVersion.V1, negotiated);
        // No version_information: the packets' version, if the server speaks it.
        Assert.True(VersionNegotiation.TryChooseForServer(QuicVersion.V1, null, [QuicVersion.V1], out negotiated, out _));
        Assert.Equal(QuicVersion.V1, negotiated);
        Assert.False(VersionNegotiation.TryChooseForServer(QuicVersion.V1, new VersionInformation(QuicVersion.V1, [QuicVersion.V1]),
            [QuicVersion.V2], out _, out var error));
        Assert.Equal(QuicTransportError.VersionNegotiationError, error.Code);
    }

    [Fact]
    public void The_client_refuses_a_server_choice_that_contradicts_the_wire_or_its_offer()
    {
        uint[] offered = [QuicVersion.V2, QuicVersion.V1];
        // Consistent: server packets in v2, server says v2.
        Assert.True(VersionNegotiation.CheckServerChoice(new VersionInformation(QuicVersion.V2, [QuicVersion.V1, QuicVersion.V2]), QuicVersion.V2, QuicVersion.V1, offered).IsNone);
        // Packets v2, says v1: someone changed something.
        Assert.Equal(QuicTransportError.VersionNegotiationError,
            VersionNegotiation.CheckServerChoice(new VersionInformation(QuicVersion.V1, [QuicVersion.V1]), QuicVersion.V2, QuicVersion.V1, offered).Code);
        // A version we never offered.
        Assert.Equal(QuicTransportError.VersionNegotiationError,
            VersionNegotiation.CheckServerChoice(new VersionInformation(QuicVersion.V2Draft, [QuicVersion.V2Draft]), QuicVersion.V2Draft, QuicVersion.V1, offered).Code);
        // A switch without version_information.
        Assert.Equal(QuicTransportError.VersionNegotiationError, VersionNegotiation.CheckServerChoice(null, QuicVersion.V2, QuicVersion.V1, offered).Code);
        Assert.True(VersionNegotiation.CheckServerChoice(null, QuicVersion.V1, QuicVersion.V1, offered).IsNone);
    }

    [Fact]
    public void A_server_limited_to_v2_closes_a_v1_only_client_with_version_negotiation_error()
    {
        using var pair = new CorePair(server: s => s.Versions = [QuicVersion.V2]);
        Assert.True(pair.RunUntil(() => pair.Client.Phase is ConnectionPhase.Closed or ConnectionPhase.Draining or ConnectionPhase.Closing), CoreHandshakeTests.Describe(pair));
        Assert.Equal((ulong)QuicTransportError.VersionNegotiationError, pair.Server!.CloseInfo!.Value.ErrorCode);
    }

    [Fact]
    public void A_forged_server_initial_in_another_version_does_not_move_the_client()
    {
        // Before the real server answers, a packet claiming v2 (random bytes behind a v2 Initial header) reaches the
        // client. It does not authenticate with v2's Initial keys, so the client stays on v1 and completes normally.
        using var pair = new CorePair(client: c => c.Versions = [QuicVersion.V1, QuicVersion.V2], server: s => s.Versions = [QuicVersion.V1]);
        var first = new byte[1200];
        Assert.True(pair.Client.WriteDatagram(first, pair.Now) > 0);
        var forged = new byte[1200];
        new Random(1).NextBytes(forged);
        int n = PacketHeaderWriter.WriteLongHeader(forged, QuicPacketType.Initial, QuicVersion.V2, pair.Client.InitialLocalConnectionId.Span,
            [1, 2, 3, 4, 5, 6, 7, 8], default, 0, 4, 1100, 2);
        pair.Client.OnDatagram(forged.AsMemory(0, n + 1100), pair.Now);
        Assert.Equal(QuicVersion.V1, pair.Client.Version);
        // The first Initial never left (we took it): the client's retransmission, still v1, makes the handshake.
        Assert.True(pair.Handshake(), CoreHandshakeTests.Describe(pair));
        Assert.Equal(QuicVersion.V1, pair.Client.Version);
    }
}
