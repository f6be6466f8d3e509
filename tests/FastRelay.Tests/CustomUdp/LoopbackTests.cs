using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using FastRelay.Protocols.CustomUdp.Clients;
using FastRelay.Protocols.CustomUdp.Wire;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.CustomUdp;

/// <summary>Publisher and Subscriber against a tiny in-test relay over loopback (IPv4 and IPv6).</summary>
public sealed class LoopbackTests(ITestOutputHelper output)
{
    /// <summary>
    /// Userspace stand-in for the relay: the cookie handshake, DATA renumbered per subscriber (every 10th sequence
    /// deliberately not sent, so the subscriber must NACK it), REPAIR from a store of what was numbered.
    /// </summary>
    private sealed class FakeRelay : IDisposable
    {
        private readonly Socket _socket;
        private readonly Thread _thread;
        private volatile bool _stop;
        private CookieJar _jar = new();
        private SocketAddress? _publisher;
        private readonly Dictionary<SocketAddress, (uint Next, Dictionary<uint, byte[]> Sent)> _subscribers = new();
        public readonly ConcurrentDictionary<ControlType, int> Seen = new();
        /// <summary>Sequences given to subscribers' copies (sent or deliberately not), those not sent, repairs sent.</summary>
        public int Numbered, Dropped, Repaired;

        public FakeRelay(IPAddress address)
        {
            _socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            // Like the clients' sockets (ClientSocket): with the 208 KB default, a relay thread stalled ~100 ms on a loaded
            // machine lost the publisher's DATA in its own socket (it numbered 1981 of 2000), which no NACK can repair.
            _socket.ReceiveBufferSize = 4 << 20;
            _socket.Bind(new IPEndPoint(address, 0));
            Endpoint = (IPEndPoint)_socket.LocalEndPoint!;
            _thread = new Thread(Loop) { IsBackground = true };
            _thread.Start();
        }

        public IPEndPoint Endpoint { get; }
        public int Subscribers { get { lock (_subscribers) return _subscribers.Count; } }

        /// <summary>A restart: new secret, no subscribers.</summary>
        public void Forget() { lock (_subscribers) { _subscribers.Clear(); _jar = new CookieJar(); } }

        private void Loop()
        {
            var buffer = new byte[65536];
            var tx = new byte[65536];
            while (!_stop)
            {
                if (!_socket.Poll(20_000, SelectMode.SelectRead)) continue;
                var from = new SocketAddress(_socket.AddressFamily);
                var packet = buffer.AsSpan(0, _socket.ReceiveFrom(buffer, SocketFlags.None, from));
                lock (_subscribers)
                {
                    if (PacketHeader.IsDataPacket(packet))
                    {
                        if (!from.Equals(_publisher)) continue;
                        foreach (var (address, state) in _subscribers.ToArray())
                        {
                            var copy = packet.ToArray();
                            PacketHeader.WriteSequence(copy, state.Next);
                            state.Sent[state.Next] = copy;
                            Interlocked.Increment(ref Numbered);
                            if (state.Next % 10 == 5) Interlocked.Increment(ref Dropped);
                            else _socket.SendTo(copy, SocketFlags.None, address);
                            _subscribers[address] = (state.Next + 1, state.Sent);
                        }
                        continue;
                    }
                    if (!ControlMessage.TryReadType(packet, out var header, out var type)) continue;
                    Seen.AddOrUpdate(type, 1, (_, n) => n + 1);
                    var ch = header.Channel;
                    var now = MonotonicClock.NowNs();
                    if (Subscribe.TryRead(packet, out _) || Publish.TryRead(packet, out _))
                    {
                        var role = type == ControlType.Subscribe ? Role.Subscriber : Role.Publisher;
                        Send(new Challenge(role, _jar.Issue(from, ch, role)).Write(tx, ch, now), tx, from);
                    }
                    else if (Confirm.TryRead(packet, out var confirm))
                    {
                        var ok = _jar.Verify(from, ch, confirm.Role, confirm.Cookie);
                        if (ok && confirm.Role == Role.Publisher) _publisher = from;
                        if (ok && confirm.Role == Role.Subscriber) _subscribers[from] = (0, new());
                        Send(new Reply(confirm.Role, ok ? ReplyStatus.Accepted : ReplyStatus.BadCookie, 0).Write(tx, ch, now), tx, from);
                    }
                    else if (Nack.TryRead(packet, out var nack) && _subscribers.TryGetValue(from, out var sub))
                    {
                        foreach (var range in nack)
                            for (var i = 0u; i < range.Length; i++)
                                if (sub.Sent.TryGetValue(range.First + i, out var original))
                                {
                                    Interlocked.Increment(ref Repaired);
                                    Send(Repair.Write(tx, ch, now, range.First + i, original), tx, from);
                                }
                    }
                    else if (Feedback.TryRead(packet, out _) && _subscribers.ContainsKey(from))
                    {
                        // Like the relay on a quiet channel: "still subscribed" (a test process starting its publisher
                        // slowly must not make the subscriber start over and drop the first DATA as stale).
                        Send(new Reply(Role.Subscriber, ReplyStatus.Accepted, 0).Write(tx, ch, now), tx, from);
                    }
                    else if (Unsubscribe.TryRead(packet, out _)) _subscribers.Remove(from);
                }
            }
        }

        private void Send(int length, byte[] tx, SocketAddress to) => _socket.SendTo(tx.AsSpan(0, length), SocketFlags.None, to);

        public void Dispose()
        {
            _stop = true;
            _thread.Join();
            _socket.Dispose();
        }
    }

    public static TheoryData<string> Loopbacks => new("127.0.0.1", "::1");

    /// <summary>
    /// Every packet the relay numbered reaches the subscriber once, directly or repaired after a NACK. The subscriber runs
    /// until it has delivered what the relay numbered (not for a fixed time): on a loaded machine the publisher's pacer
    /// can skip ahead (a stall of more than 50 ms restarts its schedule), so the counts below follow what was really sent.
    /// </summary>
    [Theory]
    [MemberData(nameof(Loopbacks))]
    public async Task Gaps_are_nacked_and_repaired_payloads_verify_and_delays_are_measured(string loopback)
    {
        if (loopback == "::1" && !Socket.OSSupportsIPv6) return;
        using var relay = new FakeRelay(IPAddress.Parse(loopback));
        using var subscriber = new Subscriber(new SubscriberOptions { Relay = relay.Endpoint, Channel = 5, HistoryMs = 0 });
        using var stop = new CancellationTokenSource();
        var subscribing = subscriber.RunAsync(null, stop.Token);
        await WaitFor(() => relay.Subscribers == 1, "the subscriber is accepted");

        using var publisher = new Publisher(new PublisherOptions
        {
            Relay = relay.Endpoint, Channel = 5, RatePps = 2000, PacketSize = 300, Duration = TimeSpan.FromSeconds(1),
        });
        var published = await publisher.RunAsync();
        // The relay numbered every DATA it received (its socket buffer holds the whole second); a deliberately unsent last
        // packet leaves no later one to reveal its gap, so the subscriber cannot ask for it.
        await WaitFor(() => relay.Numbered == published.PacketsSent, "the relay numbers every packet sent");
        var numbered = relay.Numbered;
        var trailingDrop = (numbered - 1) % 10 == 5 ? 1 : 0;
        var expected = numbered - trailingDrop;
        var delivered = await WaitUntil(() => subscriber.PacketsDelivered >= expected, TimeSpan.FromSeconds(20));
        stop.Cancel();
        var report = await subscribing;
        output.WriteLine(published.ToSummary());
        output.WriteLine(report.ToSummary());
        Assert.True(delivered, $"the subscriber delivered {report.Received} + {report.Repaired} repaired of {expected} within 20 s\n{report.ToSummary()}");

        Assert.True(published.Accepted);
        var sent = published.PacketsSent;
        // 2000 in the second; fewer only when the pacer restarted its schedule after falling behind (it never bursts).
        if (published.ScheduleResets == 0) Assert.Equal(2000, sent);
        else Assert.InRange(sent, 1, 1999);
        Assert.Equal((sent + 9) / 10, published.PerPriority[0]);             // packets 0, 10, 20, … priority 0
        Assert.True(report.Subscribed, report.ToSummary());
        Assert.Equal((numbered + 4) / 10, relay.Dropped);                   // sequences 5, 15, 25, … never sent
        // Every packet arrived once, directly or repaired; a sequence lost on loopback under load is repaired too.
        Assert.Equal(expected, report.Received + report.Repaired);
        Assert.True(report.Repaired >= relay.Dropped - trailingDrop, report.ToSummary());
        Assert.Equal(report.Repaired + report.Reordered, report.GapsDetected);
        Assert.Equal(0, report.UnrepairedGaps);
        Assert.Equal((0L, 0L, 0L, 0L), (report.IntegrityErrors, report.WrongChannel, report.Malformed, report.NegativeDelays));
        Assert.Equal(0, report.NotSentByRelay);
        Assert.True(report.NacksSent > 0, report.ToSummary());
        Assert.Equal(report.Received, report.Delay.Count);
        Assert.True(report.Delay.P50Us > 0 && report.Delay.P50Us <= report.Delay.P99Us && report.Delay.P99Us <= report.Delay.MaxUs);
        Assert.True(report.Delay.P50Us < 50_000, report.ToSummary()); // loopback: well under 50 ms even on a busy CI box
        await WaitFor(() => relay.Subscribers == 0, "UNSUBSCRIBE on stop");
        Assert.Equal(1, relay.Seen.GetValueOrDefault(ControlType.Unsubscribe));
        // FEEDBACK went out (at acceptance, then periodically) and every one reached the relay: it handled the UNSUBSCRIBE
        // sent after them. How many depends on how long the run took, which is not the point here.
        Assert.True(report.FeedbackSent >= 2, report.ToSummary());
        Assert.Equal(report.FeedbackSent, relay.Seen.GetValueOrDefault(ControlType.Feedback));

        using var json = JsonDocument.Parse(report.ToJson());
        Assert.Equal(report.Received, json.RootElement.GetProperty("received").GetInt64());
        Assert.True(json.RootElement.GetProperty("delay").GetProperty("p99Us").GetDouble() > 0);
    }

    [Fact]
    public async Task The_subscriber_allocates_nothing_per_packet()
    {
        using var relay = new FakeRelay(IPAddress.Loopback);
        using var subscriber = new Subscriber(new SubscriberOptions { Relay = relay.Endpoint, Channel = 2 });
        long allocated = 0;
        var subscribing = Task.Factory.StartNew(() =>
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var r = subscriber.Run(TimeSpan.FromSeconds(2.5));
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            return r;
        }, TaskCreationOptions.LongRunning);
        await WaitFor(() => relay.Subscribers == 1, "the subscriber is accepted");
        using var publisher = new Publisher(new PublisherOptions { Relay = relay.Endpoint, Channel = 2, RatePps = 10_000, PacketSize = 100, Duration = TimeSpan.FromSeconds(1) });
        await publisher.RunAsync();
        var report = await subscribing;

        // Enough packets for a per-packet allocation to show. Not all 10 000: under a loaded CI machine the subscriber has
        // been seen to stall long enough to re-subscribe (which it should), and loss is not what this test is about.
        Assert.True(report.Received + report.Repaired >= 5_000, report.ToSummary());
        // The report and its strings allocate a few KB once; 5 000 packets at even 8 bytes each would be 40 KB.
        Assert.True(allocated < 16_000 && allocated >= 0, $"{allocated} bytes allocated for {report.Received + report.Repaired} packets");
    }

    [Fact]
    public async Task A_silent_relay_is_subscribed_to_again()
    {
        using var relay = new FakeRelay(IPAddress.Loopback);
        using var subscriber = new Subscriber(new SubscriberOptions { Relay = relay.Endpoint, Channel = 1 });
        var subscribing = subscriber.RunAsync(TimeSpan.FromSeconds(2.5));
        await WaitFor(() => relay.Subscribers == 1, "first subscription");
        relay.Forget(); // the relay restarted: it knows nobody, sends nothing
        await Task.Delay(300);
        Assert.Equal(0, relay.Subscribers);
        await WaitFor(() => relay.Subscribers == 1, "re-subscription after a second of silence");
        var report = await subscribing;
        Assert.True(report.Resubscribes >= 1, report.ToSummary());
        Assert.True(report.HandshakeAttempts >= 2);
    }

    [Fact]
    public async Task Without_a_relay_both_clients_report_that_nobody_answered()
    {
        using var nobody = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        nobody.Bind(new IPEndPoint(IPAddress.Loopback, 0)); // bound, never answers
        var endpoint = (IPEndPoint)nobody.LocalEndPoint!;
        using var subscriber = new Subscriber(new SubscriberOptions { Relay = endpoint, Channel = 1 });
        using var publisher = new Publisher(new PublisherOptions { Relay = endpoint, Channel = 1, HandshakeTimeout = TimeSpan.FromSeconds(1.2) });
        var (sub, pub) = (subscriber.RunAsync(TimeSpan.FromSeconds(1.2)), publisher.RunAsync());
        var report = await sub;
        var published = await pub;
        Assert.False(report.Subscribed);
        Assert.InRange(report.HandshakeAttempts, 2, 4); // every 500 ms
        Assert.False(published.Accepted);
        Assert.Equal("NoReply", published.Rejection);
        Assert.InRange(published.HandshakeAttempts, 2, 4);
    }

    /// <summary>Waits for <paramref name="condition"/> up to <paramref name="within"/>; false when it did not come (the
    /// caller's assertions then say what was missing).</summary>
    private static async Task<bool> WaitUntil(Func<bool> condition, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(10);
        }
        return true;
    }

    private static async Task WaitFor(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(what);
            await Task.Delay(10);
        }
    }
}
