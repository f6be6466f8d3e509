using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Wire;
using Xunit;

namespace FastRelay.Tests.Quic.Connection;

/// <summary>Transport rules of RFC 9000 observed on two cores over the in-memory network.</summary>
public sealed class CoreBehaviourTests
{
    [Fact]
    public void The_server_sends_at_most_three_times_what_it_received_before_the_address_is_validated()
    {
        // Only the client's first datagram arrives; the server keeps probing but must stay within 3x (RFC 9000 §8.1).
        using var pair = new CorePair { Lose = (toServer, index) => toServer && index > 0 };
        pair.RunUntil(() => false, limit: 20_000_000);
        int received = pair.ServerBound[0].Length;
        int sent = pair.ClientBound.Sum(d => d.Length);
        Assert.True(sent > 0, "the server never answered");
        Assert.True(sent <= 3 * received, $"server sent {sent} bytes after receiving {received}");
        Assert.False(pair.Server!.IsHandshakeComplete);
    }

    [Fact]
    public void Probes_to_a_peer_that_is_gone_do_not_keep_the_connection_alive_past_its_idle_timeout()
    {
        // RFC 9000 §10.1: only the first ack-eliciting packet sent after the peer was last heard from restarts the idle
        // timer. Here the client vanishes just as the server answers; the server's PTO probes must not extend its life.
        var gone = false;
        using var pair = new CorePair { Lose = (_, _) => gone };
        Assert.True(pair.Handshake());
        var (id, _) = pair.Transfer([1, 2, 3]);
        gone = true;
        var answeredAt = pair.Now;
        pair.Server!.Streams.Write(id, new byte[500], true);
        Assert.True(pair.RunUntil(() => pair.Server.Phase == ConnectionPhase.Closed, limit: 200_000_000));

        Assert.True(pair.Server.CloseInfo!.Value.IdleTimeout, $"{pair.Server.CloseInfo}");
        var idle = 30_000_000L; // CorePair's idle timeout
        Assert.InRange(pair.Now - answeredAt, idle, idle + 1_000_000);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
        public void The_handshake_completes_and_data_arrives_under_30_percent_loss_both_ways(int seed)
    {
        var rng = new Random(seed);
        var log = new System.Text.StringBuilder();
        CorePair? self = null;
        using var pair = self = new CorePair(c => c.Logger = new TestLog("client", () => self!.Now, log), s => s.Logger = new TestLog("server", () => self!.Now, log))
        {
            Lose = (toServer, index) =>
            {
                bool lost = rng.NextDouble() < 0.3;
                lock (log) log.AppendLine($"{self!.Now / 1000.0:F1}ms {(toServer ? "c->s" : "s->c")} #{index} {(lost ? "LOST" : "")}");
                return lost;
            },
        };
        Assert.True(pair.RunUntil(() => pair.Client.IsHandshakeComplete && pair.Server?.IsHandshakeComplete == true, limit: 60_000_000),
            CoreHandshakeTests.Describe(pair) + "\n" + log);
        var payload = new byte[300_000];
        rng.NextBytes(payload);
        Assert.Equal(payload, pair.Transfer(payload, limit: 120_000_000).Received);
    }

    [Fact]
    public void After_the_handshake_each_side_issues_spare_connection_ids_up_to_the_peers_limit()
    {
        using var pair = new CorePair();
        Assert.True(pair.RunUntil(() => pair.Client.IsHandshakeComplete && pair.Server?.IsHandshakeComplete == true));
        pair.RunUntil(() => pair.ClientIds.Count == 4 && pair.ServerIds.Count == 4, limit: 5_000_000);
        // Our active_connection_id_limit is 4 on both sides: the initial id plus three from NEW_CONNECTION_ID.
        Assert.Equal(4, pair.ClientIds.Count);
        Assert.Equal(4, pair.ServerIds.Count);
    }

    [Fact]
    public void A_stateless_reset_with_the_servers_token_puts_the_client_into_draining()
    {
        using var pair = new CorePair();
        Assert.True(pair.RunUntil(() => pair.Client.IsHandshakeComplete && pair.Server?.IsHandshakeComplete == true));
        // The server "lost its state": it answers a packet for its first id with a stateless reset (RFC 9000 §10.3).
        var serverId = pair.ServerIds.First(id => id.Equals(pair.Server!.PeerTransportParameters is null ? default : FirstServerId(pair)));
        var reset = new byte[64];
        int length = pair.ServerResetKey.WriteReset(reset, serverId, 100);
        Assert.True(length >= StatelessResetKey.MinimumPacketLength);
        pair.Client.OnDatagram(reset.AsMemory(0, length), pair.Now);
        Assert.Equal(ConnectionPhase.Draining, pair.Client.Phase);
        Assert.True(pair.Client.CloseInfo!.Value.StatelessReset);
    }

    [Fact]
    public void Random_bytes_ending_in_a_wrong_token_are_just_dropped()
    {
        using var pair = new CorePair();
        Assert.True(pair.RunUntil(() => pair.Client.IsHandshakeComplete && pair.Server?.IsHandshakeComplete == true));
        var junk = new byte[40];
        new Random(3).NextBytes(junk);
        junk[0] = 0x45;
        pair.Client.OnDatagram(junk, pair.Now);
        Assert.Equal(ConnectionPhase.Established, pair.Client.Phase);
    }

    [Fact]
    public void An_application_close_reaches_the_peer_with_its_code_and_both_end_closed()
    {
        using var pair = new CorePair();
        Assert.True(pair.RunUntil(() => pair.Client.IsHandshakeComplete && pair.Server?.IsHandshakeComplete == true));
        pair.Client.Close(0x1234, "bye", pair.Now);
        Assert.True(pair.RunUntil(() => pair.Client.Phase == ConnectionPhase.Closed && pair.Server!.Phase == ConnectionPhase.Closed));
        var seen = pair.Server!.CloseInfo!.Value;
        Assert.True(seen.ByPeer);
        Assert.True(seen.IsApplicationError);
        Assert.Equal(0x1234ul, seen.ErrorCode);
        Assert.Equal("bye", seen.Reason);
    }

    [Fact]
    public void Key_updates_started_by_either_side_keep_data_flowing()
    {
        var log = new System.Text.StringBuilder();
        CorePair? self = null;
        using var pair = self = new CorePair(c => c.Logger = new TestLog("client", () => self!.Now, log), s => s.Logger = new TestLog("server", () => self!.Now, log));
        Assert.True(pair.RunUntil(() => pair.Client.IsHandshakeComplete && pair.Server?.IsHandshakeComplete == true));
        Assert.True(pair.Client.Streams.TryOpenStream(true, out ulong id));
        var received = new List<byte>();
        for (int round = 0; round < 6; round++)
        {
            var who = round % 2 == 0 ? pair.Client : pair.Server!;
            ulong before = who.KeyUpdateGeneration;
            who.RequestKeyUpdate();
            pair.Client.Streams.Write(id, new byte[10_000], false);
            Assert.True(pair.RunUntil(() =>
            {
                CorePair.Drain(pair.Server!, id, received, out _);
                return received.Count == (round + 1) * 10_000 && who.KeyUpdateGeneration == before + 1
                    && pair.Client.KeyUpdateGeneration == pair.Server!.KeyUpdateGeneration;
            }), $"round {round}: generations client {pair.Client.KeyUpdateGeneration} server {pair.Server!.KeyUpdateGeneration}, received {received.Count}; {CoreHandshakeTests.Describe(pair)}\n{Tail(log)}");
            Assert.Equal(before + 1, who.KeyUpdateGeneration);
        }
        Assert.Equal(6ul, pair.Client.KeyUpdateGeneration);
    }

    private static string Tail(System.Text.StringBuilder log)
    {
        var text = log.ToString();
        return text.Length > 6000 ? text[^6000..] : text;
    }

    private static ConnectionId FirstServerId(CorePair pair) => pair.Client.PeerTransportParameters!.InitialSourceConnectionId!.Value;
}
