using Xunit;

namespace FastRelay.Tests.Quic.Connection;

/// <summary>
/// What a PTO probe carries once the handshake is done (RFC 9002 §6.2.4). In the ngtcp2 30 %-loss loop our server's
/// response packet was lost, the client's ACK of the next one too, and the server's PTO probes were bare PINGs: each
/// only earned an ACK (itself lost at 30 %), and the data went out again a round trip after that, by then with PTOs
/// backed off to 10-20 s, so the client's 60 s ran out. A probe with nothing new to send carries the oldest data in
/// flight instead.
/// </summary>
public sealed class CoreProbeContentTests
{
    [Fact]
    public void A_probe_resends_the_oldest_data_in_flight_when_nothing_new_waits()
    {
        var armed = false;
        var dropCurrent = false;
        int afterWrite = 0;
        // Once armed: the client's next datagram (its data) is lost, and nothing from the server reaches the client, so
        // the client never learns of the loss from an ACK: only what its probes carry can bring the data over.
        using var pair = new CorePair { Lose = (toServer, _) => armed && (!toServer || dropCurrent) };
        pair.Mutate = (toServer, _) => { if (toServer) dropCurrent = armed && afterWrite++ == 0; };
        Assert.True(pair.Handshake());
        pair.RunUntil(() => false, limit: 1_000_000);   // HANDSHAKE_DONE, connection ids and their ACKs settle

        Assert.True(pair.Client.Streams.TryOpenStream(true, out ulong id));
        var payload = new byte[1000];
        new Random(5).NextBytes(payload);
        Assert.Equal(payload.Length, pair.Client.Streams.Write(id, payload, false));
        pair.Client.Streams.Write(id, [], true);
        armed = true;

        var received = new List<byte>();
        var fin = false;
        var done = pair.RunUntil(() =>
        {
            CorePair.Drain(pair.Server!, id, received, out bool f);
            return fin |= f;
        }, limit: 10_000_000);
        Assert.True(done, $"the server got {received.Count} of {payload.Length} bytes from {pair.DatagramsToServer} client datagrams " +
                          $"({afterWrite} after the write, the first lost): the probes did not carry the data");
        Assert.True(afterWrite >= 2, "the data arrived without a probe: the test proved nothing");
        Assert.Equal(payload, received.ToArray());
    }

    /// <summary>
    /// The response of the failing loop run was three small packets; a probe that resent only the oldest two left the
    /// third for the next PTO, twice as far off. The probes take as many of the oldest packets as they have room for.
    /// </summary>
    [Fact]
    public void One_round_of_probes_resends_several_small_lost_packets()
    {
        var armed = false;
        var dropCurrent = false;
        int afterWrite = 0;
        using var pair = new CorePair { Lose = (toServer, _) => armed && (!toServer || dropCurrent) };
        pair.Mutate = (toServer, _) => { if (toServer) dropCurrent = armed && afterWrite++ < 3; };
        Assert.True(pair.Handshake());
        pair.RunUntil(() => false, limit: 1_000_000);
        Assert.True(pair.Client.Streams.TryOpenStream(true, out ulong id));
        armed = true;

        // Three small packets, one per send round, all lost; nothing comes back from the server.
        var payload = new byte[900];
        new Random(6).NextBytes(payload);
        int written = 0;
        var received = new List<byte>();
        var fin = false;
        var done = pair.RunUntil(() =>
        {
            if (written < payload.Length)
            {
                written += pair.Client.Streams.Write(id, payload.AsSpan(written, 300), written + 300 == payload.Length);
                return false;
            }
            CorePair.Drain(pair.Server!, id, received, out bool f);
            return fin |= f;
        }, limit: 10_000_000);
        Assert.True(done, $"the server got {received.Count} of {payload.Length} bytes; {afterWrite} client datagrams after the writes");
        Assert.Equal(payload, received.ToArray());
        // Three lost, then one PTO's probes (at most two datagrams) carried all three packets' data.
        Assert.True(afterWrite <= 5, $"{afterWrite} client datagrams: the data needed more than one round of probes");
    }
}
