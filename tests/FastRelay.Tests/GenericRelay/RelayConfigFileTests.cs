using System.Net;
using System.Text.RegularExpressions;
using FastRelay.Cli;
using FastRelay.Cli.Relay;
using FastRelay.Examples.Rtp;
using FastRelay.Relay;
using Xunit;
using RepoPaths = FastRelay.Tests.Infrastructure.RepoPaths;

namespace FastRelay.Tests.GenericRelay;

/// <summary>The generic relay's configuration file: what it accepts, and errors that name the file and the key.</summary>
public sealed class RelayConfigFileTests
{
    private static readonly ProtocolFeatures Rtp = ProtocolFeatures.Of(RtpHeaderFastPath.Protocol);
    private static readonly ProtocolFeatures Tick = ProtocolFeatures.Of(SampleProtocol.TickHeaderFastPath.Protocol);

    [Fact]
    public void A_channel_with_upstream_and_subscribers_in_both_forms_becomes_a_plan()
    {
        var plan = RelayConfigFile.Parse("""
            { "port": 5004, "sequence": "passthrough",   // options are ConfigFile's; comments are fine
              "channels": [ { "id": 305419896, "upstream": "10.0.0.2:40000",
                              "subscribers": [ "10.1.0.2:6000", { "address": "[fd00::3]:6000", "name": "b" } ] },
                            { "id": 7 } ] }
            """, "relay.json", Rtp);

        Assert.Equal(2, plan.Channels.Count);
        var channel = plan.Channels[0];
        Assert.Equal(0x12345678UL, channel.Id);
        Assert.Equal(IPEndPoint.Parse("10.0.0.2:40000"), channel.Upstream);
        Assert.Equal([IPEndPoint.Parse("10.1.0.2:6000"), IPEndPoint.Parse("[fd00::3]:6000")], channel.Subscribers.Select(s => s.Address));
        Assert.Equal("b", channel.Subscribers[1].Name);
        Assert.Null(plan.Channels[1].Upstream); // any sender
        Assert.Empty(plan.Channels[1].Subscribers);
    }

    [Theory]
    [InlineData("""{ "channels": [ { "id": 1, "subscribers": [ "10.1.0.2" ] } ] }""", "channels[0].subscribers[0]", "not ADDRESS:PORT")]
    [InlineData("""{ "channels": [ { "id": 1, "subscribers": [ { "address": "10.1.0.2:1", "colour": 3 } ] } ] }""", "channels[0].subscribers[0].colour", "unknown key")]
    [InlineData("""{ "channels": [ { "subscribers": [] } ] }""", "channels[0].id", "missing")]
    [InlineData("""{ "channels": [ { "id": 4294967296 } ] }""", "channels[0].id", "does not fit")]
    [InlineData("""{ "channels": [ { "id": 1 }, { "id": 1 } ] }""", "channels[1].id", "listed twice")]
    [InlineData("""{ "channels": [ { "id": 1, "upstream": "0.0.0.0:5" } ] }""", "channels[0].upstream", "unspecified")]
    [InlineData("""{ "channels": [ { "id": 1, "subscribers": [ "10.1.0.2:1", "10.1.0.2:1" ] } ] }""", "channels[0].subscribers[1]", "listed twice")]
    [InlineData("""{ "channels": [ { "id": 1, "subscribers": [ { "address": "10.1.0.2:1", "budget": { "bytesPerSecond": 1, "burstBytes": 1 } } ] } ] }""", "channels[0].subscribers[0].budget", "no priority drop")]
    [InlineData("""{ "channels": [ { "id": 1, "subscribers": [ { "address": "10.1.0.2:1", "connectionId": "aa" } ] } ] }""", "channels[0].subscribers[0].connectionId", "no [ConnectionId]")]
    [InlineData("""{ "sequence": "renumber" }""", "sequence", "Translate = true")]
    [InlineData("""{ "sequence": "sometimes" }""", "sequence", "passthrough")]
    [InlineData("""{ "channels": { "id": 1 } }""", "channels", "expected an array")]
    [InlineData("""{ "channels": [ { "id": 1, "streams": [1] } ] }""", "channels[0].streams", "does not translate")]
    public void A_mistake_names_the_file_and_the_key(string json, string key, string problem)
    {
        var e = Assert.Throws<UserFacingException>(() => RelayConfigFile.Parse(json, "/etc/relay.json", Rtp));

        Assert.StartsWith($"/etc/relay.json: {key}: ", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void More_subscribers_than_the_descriptor_has_slots_is_refused()
    {
        var many = string.Join(", ", Enumerable.Range(1, RtpHeaderFastPath.Protocol.MaxSubscribers + 1).Select(i => $"\"10.1.0.{i}:6000\""));
        var e = Assert.Throws<UserFacingException>(() => RelayConfigFile.Parse($$"""{ "channels": [ { "id": 1, "subscribers": [ {{many}} ] } ] }""", "r.json", Rtp));
        Assert.Contains("MaxSubscribers", e.Message);
    }

    /// <summary>The README's relay.json (walkthrough step 5) is valid for the walkthrough's descriptor, with the
    /// options it shows: connection id and budget.</summary>
    [Fact]
    public void The_readme_configuration_is_valid_for_the_walkthrough_descriptor()
    {
        var readme = File.ReadAllText(Path.Combine(RepoPaths.Root, "README.md"));
        var json = Regex.Match(readme, @"5\. \*\*Relay it\.\*\*.*?```json\n(?<body>.*?)\n\s*```", RegexOptions.Singleline).Groups["body"].Value;
        Assert.NotEmpty(json);

        var plan = RelayConfigFile.Parse(json, "README.md", Tick);

        Assert.Equal([KeyValuePair.Create(1UL, 1UL), KeyValuePair.Create(2UL, 2UL)], plan.Channels.Single().StreamList);
        var subscriber = plan.Channels.Single().Subscribers[1];
        Assert.Equal(4, subscriber.ConnectionId!.Length);
        Assert.Equal(2_000_000, subscriber.Budget!.BytesPerSecond);
        Assert.Equal((uint)Tick.PriorityLevels, subscriber.Budget.DropFromLevel);
    }

    /// <summary>The example's own relay.json is valid for the RTP descriptor.</summary>
    [Fact]
    public void The_rtp_examples_configuration_is_valid()
    {
        var plan = RelayConfigFile.Load(Path.Combine(RepoPaths.Root, "examples", "rtp", "relay.json"), Rtp);
        Assert.Equal(3, plan.Channels.Single().Subscribers.Count);
    }

    /// <summary>The MoldUDP64 example's relay.json: its channel is the session's bytes 2..9, and its options (the
    /// control API among them) are options `fastrelay relay` takes.</summary>
    [Fact]
    public void The_moldudp64_examples_configuration_is_valid_and_its_descriptor_passes_a_message_counted_sequence_through()
    {
        var mold = ProtocolFeatures.Of(FastRelay.Examples.MoldUdp64.MoldUdp64HeaderFastPath.Protocol);
        var path = Path.Combine(RepoPaths.Root, "examples", "moldudp64", "relay.json");
        var plan = RelayConfigFile.Load(path, mold);
        Assert.Equal(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian("TEST0001"u8), plan.Channels.Single().Id);
        Assert.Equal(3, plan.Channels.Single().Subscribers.Count);
        var expanded = ConfigFile.Expand(CliRoot.Create(), ["relay", "--config", path]);
        Assert.Equal("127.0.0.1:9180", expanded[Array.IndexOf(expanded, "--control") + 1]);

        Assert.True(mold.AdvancesByMessageCount);
        Assert.False(mold.RenumbersPerSubscriber);
        Assert.False(mold.KernelCache);
        Assert.Equal("passed through (advancing by the message count)", mold.SequenceDescription);
        Assert.Null(RelayHost.Unsupported(mold));
        Assert.False(Rtp.AdvancesByMessageCount); // only descriptors with [MessageCount]
    }

    [Fact]
    public void The_rtp_descriptor_passes_sequence_numbers_through_and_the_host_can_serve_it()
    {
        Assert.True(Rtp.HasPacketNumber);
        Assert.False(Rtp.RenumbersPerSubscriber);
        Assert.True(Rtp.HasChannel);
        Assert.Equal(uint.MaxValue, Rtp.MaxChannelId);
        Assert.Null(RelayHost.Unsupported(Rtp));
        // The QUIC profile needs its own control plane: refused with the reason.
        Assert.Contains("ChannelKey", RelayHost.Unsupported(ProtocolFeatures.Of(FastRelay.Protocols.Quic.QuicMoqHeaderFastPath.Protocol)));
        // The walkthrough's descriptor translates stream ids: served, with the channel's streams from the file.
        Assert.Null(RelayHost.Unsupported(Tick));
    }

    [Fact]
    public void A_stream_translating_descriptor_needs_the_channels_streams()
    {
        var missing = Assert.Throws<UserFacingException>(() => RelayConfigFile.Parse("""{ "channels": [ { "id": 7 } ] }""", "t.json", Tick));
        Assert.StartsWith("t.json: channels[0].streams: missing", missing.Message);

        var mapped = RelayConfigFile.Parse("""{ "channels": [ { "id": 7, "streams": { "1": 100, "2": 2 } } ] }""", "t.json", Tick);
        Assert.Equal([KeyValuePair.Create(1UL, 100UL), KeyValuePair.Create(2UL, 2UL)], mapped.Channels.Single().StreamList);

        var bad = Assert.Throws<UserFacingException>(() => RelayConfigFile.Parse("""{ "channels": [ { "id": 7, "streams": ["x"] } ] }""", "t.json", Tick));
        Assert.StartsWith("t.json: channels[0].streams[0]:", bad.Message);
    }
}
