using FastRelay.Protocols.Moq.Clients;
using Xunit;

namespace FastRelay.Tests.Moq.Clients;

/// <summary>URLs, namespaces and subscription starts as written on the command line.</summary>
public sealed class ClientTextFormsTests
{
    [Fact]
    public void Moqt_urls_are_raw_quic_with_authority_and_path()
    {
        var url = MoqUrl.Parse("moqt://127.0.0.1:4443/live?x=1");
        Assert.Equal((MoqUrlTransport.Quic, "127.0.0.1", 4443, "127.0.0.1:4443", "/live?x=1"), (url.Transport, url.Host, url.Port, url.Authority, url.PathAndQuery));
    }

    [Fact]
    public void The_port_defaults_to_443_and_ipv6_literals_work()
    {
        Assert.Equal(443, MoqUrl.Parse("moqt://relay.example").Port);
        var v6 = MoqUrl.Parse("moqt://[::1]:7000/");
        Assert.Equal(("::1", 7000), (v6.Host, v6.Port));
    }

    [Fact]
    public void Https_urls_are_webtransport()
    {
        Assert.Equal(MoqUrlTransport.WebTransport, MoqUrl.Parse("https://localhost:4443/moq").Transport);
    }

    [Theory]
    [InlineData("localhost:4443")]
    [InlineData("http://localhost:4443/")]
    [InlineData("moqt:///path")]
    [InlineData("moqt://h:1/p#frag:x")]
    public void Other_urls_are_refused(string text) => Assert.Throws<FormatException>(() => MoqUrl.Parse(text));

    [Fact]
    public void Namespaces_split_on_slashes_into_utf8_fields()
    {
        var fields = TrackNamespaceText.Parse("live/cam1/ünï");
        Assert.Equal(["live", "cam1", "ünï"], fields.Select(f => System.Text.Encoding.UTF8.GetString(f)));
        Assert.Equal("live/cam1/ünï", TrackNamespaceText.Format(fields));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a//b")]
    [InlineData("a/")]
    [InlineData(".hidden/x")]
    public void Bad_namespaces_are_refused(string text) => Assert.Throws<FormatException>(() => TrackNamespaceText.Parse(text));

    [Theory]
    [InlineData("latest", "latest")]
    [InlineData("next-group", "next-group")]
    [InlineData("absolute 3/0", "absolute 3/0")]
    [InlineData("absolute:12/5", "absolute 12/5")]
    [InlineData("7/1", "absolute 7/1")]
    public void Subscription_starts_parse(string text, string expected) => Assert.Equal(expected, SubscriptionStart.Parse(text).ToString());

    [Theory]
    [InlineData("earliest")]
    [InlineData("absolute 3")]
    [InlineData("absolute -1/0")]
    public void Bad_subscription_starts_are_refused(string text) => Assert.Throws<FormatException>(() => SubscriptionStart.Parse(text));
}
