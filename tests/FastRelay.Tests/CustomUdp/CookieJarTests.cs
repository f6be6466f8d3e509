using System.Net;
using FastRelay.Protocols.CustomUdp.Wire;
using Xunit;

namespace FastRelay.Tests.CustomUdp;

/// <summary>Stateless handshake cookies: bound to address, port, channel, role and a two-slot lifetime.</summary>
public sealed class CookieJarTests
{
    private sealed class ManualTime(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static readonly IPEndPoint Peer = IPEndPoint.Parse("192.0.2.10:40000");
    private readonly ManualTime _time = new(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));

    private CookieJar Jar(byte fill = 1) => new(TimeSpan.FromSeconds(10), _time, Enumerable.Repeat(fill, 32).ToArray());

    [Fact]
    public void A_cookie_verifies_for_its_peer_in_this_and_the_next_slot_then_expires()
    {
        var jar = Jar();
        var cookie = jar.Issue(Peer.Serialize(), 3, Role.Subscriber);

        Assert.True(jar.Verify(Peer.Serialize(), 3, Role.Subscriber, cookie));
        _time.Now += TimeSpan.FromSeconds(10);
        Assert.True(jar.Verify(Peer.Serialize(), 3, Role.Subscriber, cookie), "previous slot still valid");
        _time.Now += TimeSpan.FromSeconds(10);
        Assert.False(jar.Verify(Peer.Serialize(), 3, Role.Subscriber, cookie), "two slots later it expired");
    }

    [Fact]
    public void A_cookie_is_bound_to_address_port_channel_role_and_secret()
    {
        var jar = Jar();
        var cookie = jar.Issue(Peer, 3, Role.Subscriber);

        Assert.True(jar.Verify(Peer, 3, Role.Subscriber, cookie));
        Assert.False(jar.Verify(IPEndPoint.Parse("192.0.2.11:40000"), 3, Role.Subscriber, cookie));
        Assert.False(jar.Verify(IPEndPoint.Parse("192.0.2.10:40001"), 3, Role.Subscriber, cookie));
        Assert.False(jar.Verify(Peer, 4, Role.Subscriber, cookie));
        Assert.False(jar.Verify(Peer, 3, Role.Publisher, cookie));
        Assert.False(Jar(fill: 2).Verify(Peer, 3, Role.Subscriber, cookie), "another relay's secret");
        Assert.False(new CookieJar().Verify(Peer, 3, Role.Subscriber, cookie), "a random secret per process");
    }

    [Fact]
    public void Any_tampered_bit_is_rejected()
    {
        var jar = Jar();
        Span<byte> bytes = stackalloc byte[16];
        jar.Issue(Peer, 3, Role.Publisher).WriteTo(bytes);
        for (var bit = 0; bit < 128; bit++)
        {
            bytes[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.False(jar.Verify(Peer, 3, Role.Publisher, new HandshakeCookie(bytes)), $"bit {bit}");
            bytes[bit / 8] ^= (byte)(1 << (bit % 8));
        }
        Assert.True(jar.Verify(Peer, 3, Role.Publisher, new HandshakeCookie(bytes)));
    }

    [Fact]
    public void IPv6_works_and_an_IPv4_peer_is_the_same_peer_on_a_dual_stack_socket()
    {
        var jar = Jar();
        var v6 = IPEndPoint.Parse("[2001:db8::7]:5000");
        var cookie = jar.Issue(v6, 1, Role.Subscriber);
        Assert.True(jar.Verify(v6, 1, Role.Subscriber, cookie));
        Assert.False(jar.Verify(IPEndPoint.Parse("[2001:db8::8]:5000"), 1, Role.Subscriber, cookie));

        var mapped = new IPEndPoint(Peer.Address.MapToIPv6(), Peer.Port);
        Assert.True(jar.Verify(mapped, 1, Role.Publisher, jar.Issue(Peer, 1, Role.Publisher)));
    }

    [Fact]
    public void Issuing_and_verifying_do_not_allocate()
    {
        var jar = Jar();
        var address = Peer.Serialize();
        var cookie = jar.Issue(address, 3, Role.Subscriber);
        jar.Verify(address, 3, Role.Subscriber, cookie);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
            cookie = jar.Issue(address, 3, Role.Subscriber);
        Assert.True(jar.Verify(address, 3, Role.Subscriber, cookie));
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
