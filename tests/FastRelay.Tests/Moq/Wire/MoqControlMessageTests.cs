using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Messages;
using Xunit;

namespace FastRelay.Tests.Moq.Wire;

public class MoqControlMessageTests
{
    public static IEnumerable<object[]> Samples() => MoqMessageSamples.All().Select(m => new object[] { m });

    [Theory]
    [MemberData(nameof(Samples))]
    public void EveryMessageRoundTrips(MoqControlMessage message)
    {
        byte[] bytes = message.Encode();
        Assert.True(MoqControlMessageCodec.TryParse(bytes, out var back, out int consumed, out var error), error.ToString());
        Assert.Equal(bytes.Length, consumed);
        Assert.Equal(message.GetType(), back.GetType());
        Assert.Equal(bytes, back.Encode());
    }

    [Fact]
    public void TypedFieldsSurviveTheRoundTrip()
    {
        var subscribe = (MoqSubscribe)RoundTrip(new MoqSubscribe(0, MoqMessageSamples.Track, MoqMessageSamples.SubscribeParameters()));
        Assert.Equal(MoqMessageSamples.Track, subscribe.Track);
        var p = subscribe.Parameters;
        Assert.Equal(MoqFilterType.AbsoluteRange, p.LocationFilter!.Type);
        Assert.Equal(new MoqLocation(10, 3), p.LocationFilter.Start);
        Assert.Equal(15UL, p.LocationFilter.EndGroup);
        Assert.Equal((byte)7, p.SubscriberPriority);
        Assert.Equal(MoqGroupOrder.Descending, p.GroupOrder);
        Assert.Equal(true, p.Forward);
        Assert.Equal(2, p.AuthorizationTokens.Count);
        Assert.Equal(MoqAuthAliasType.Register, p.AuthorizationTokens[1].AliasType);
        Assert.Equal(5UL, p.AuthorizationTokens[1].Alias);
        var ranges = p.RangeFilters.Single(f => f.Kind == MoqParameterType.SubgroupFilter).Ranges;
        Assert.Equal(new[] { new MoqRange(3, 5), new MoqRange(10, 15) }, ranges);
        Assert.True(p.RangeFilters.Single(f => f.Kind == MoqParameterType.ObjectPropertyFilter).Matches(1_000_000));

        var setup = (MoqSetup)RoundTrip(MoqMessageSamples.All().OfType<MoqSetup>().First());
        Assert.Equal("/moq?room=1", setup.Options.Path);
        Assert.Equal("FastRelay/1.0", setup.Options.Implementation);
        Assert.Equal(4UL, setup.Options.MaxRequestUpdates);
        Assert.Equal(2, setup.Options.Unknown.Count);

        var error = (MoqRequestError)RoundTrip(MoqMessageSamples.All().OfType<MoqRequestError>().Last());
        Assert.Equal("moqt://b.example", error.Redirect!.ConnectUri);
        Assert.Equal("video2"u8.ToArray(), error.Redirect.TrackName.ToArray());

        var ok = (MoqSubscribeOk)RoundTrip(MoqMessageSamples.All().OfType<MoqSubscribeOk>().First());
        Assert.Equal(new MoqLocation(41, 7), ok.Parameters.LargestObject);
        Assert.Equal(3, ok.TrackProperties.Count);
    }

    [Fact]
    public void SetupBytesAreExactlyWhatTheDraftDescribes()
    {
        // 0x2F00 as a draft-19 varint is 0xAF 0x00; then a 16-bit length; then MOQT_IMPLEMENTATION (7) = "FR".
        var bytes = new MoqSetup(new MoqSetupOptions { Implementation = "FR" }).Encode();
        Assert.Equal("af000004070246" + "52", Convert.ToHexString(bytes).ToLowerInvariant());
        // SUBSCRIBE: type 3, length, request 2, namespace ("a"), name "b", one parameter: SUBSCRIBER_PRIORITY 0x20 = 5.
        var subscribe = new MoqSubscribe(2, new MoqFullTrackName(MoqTrackNamespace.FromStrings("a"), "b"), new MoqMessageParameters { SubscriberPriority = 5 }).Encode();
        Assert.Equal("030009" + "02" + "010161" + "0162" + "01" + "20" + "05", Convert.ToHexString(subscribe).ToLowerInvariant());
    }

    [Fact]
    public void RangeFilterUsesTheDraftsDeltaExample()
    {
        // "to express ranges 3-5 and 10-15: the first Start is 3, the first End is 2, the second Start is 5, the second End is 5".
        var bytes = new MoqRangeFilter(MoqParameterType.ObjectIdFilter, 0, 0, new[] { new MoqRange(3, 5), new MoqRange(10, 15) }).Encode();
        Assert.Equal(new byte[] { 0, 3, 2, 5, 5 }, bytes);
    }

    [Fact]
    public void LargestObjectIsWrittenLengthPrefixedLikeMoqNet()
    {
        var w = new MoqWriter();
        new MoqMessageParameters { LargestObject = new MoqLocation(1, 2) }.Write(w);
        Assert.Equal(new byte[] { 1, 0x09, 2, 1, 2 }, w.ToArray());
    }

    [Fact]
    public void LengthMismatchIsProtocolViolation()
    {
        byte[] bytes = new MoqGoAway("", 7).Encode();
        // One byte longer than the body: the extra byte is trailing garbage inside the message.
        var longer = bytes.Concat(new byte[] { 0 }).ToArray();
        longer[2]++;
        Assert.False(MoqControlMessageCodec.TryParse(longer, out _, out _, out var error));
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);
        // One byte shorter: the body is cut.
        var shorter = bytes[..^1];
        shorter[2]--;
        Assert.False(MoqControlMessageCodec.TryParse(shorter, out _, out _, out error));
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);
    }

    [Fact]
    public void FramerSaysWhenMoreBytesAreNeeded()
    {
        byte[] bytes = new MoqPublishDone(MoqPublishDoneCode.TrackEnded, 1, "bye").Encode();
        for (int n = 0; n < bytes.Length; n++)
            Assert.Equal(MoqParseStatus.NeedMoreData, MoqControlMessageCodec.TryReadFrame(bytes.AsSpan(0, n), out _, out _, out _, out _));
        Assert.Equal(MoqParseStatus.Complete, MoqControlMessageCodec.TryReadFrame(bytes, out var type, out int header, out int body, out _));
        Assert.Equal((MoqMessageType.PublishDone, bytes.Length), (type, header + body));
        Assert.Equal(MoqParseStatus.Malformed, MoqControlMessageCodec.TryReadFrame(new byte[] { 0x01, 0, 0 }, out _, out _, out _, out var error));
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);
    }

    [Fact]
    public void ReasonOver1024IsProtocolViolation()
    {
        var w = new MoqWriter();
        w.WriteVarint((ulong)MoqMessageType.PublishDone);
        int at = w.BeginUInt16Length();
        w.WriteVarint(2); w.WriteVarint(0); w.WriteVarint(1025); w.WriteBytes(new byte[1025]);
        w.EndUInt16Length(at);
        Assert.False(MoqControlMessageCodec.TryParse(w.ToArray(), out _, out _, out var error));
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);
    }

    [Fact]
    public void GoAwayUriOver8192IsProtocolViolation()
    {
        var w = new MoqWriter();
        w.WriteVarint((ulong)MoqMessageType.GoAway);
        int at = w.BeginUInt16Length();
        w.WriteVarint(8193); w.WriteBytes(new byte[8193]); w.WriteVarint(0);
        w.EndUInt16Length(at);
        Assert.False(MoqControlMessageCodec.TryParse(w.ToArray(), out _, out _, out var error));
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);
    }

    public static IEnumerable<object[]> BadParameterBlocks() => new[]
    {
        new object[] { "duplicate", new byte[] { 2, 0x20, 1, 0x00, 2 } },            // SUBSCRIBER_PRIORITY twice
        new object[] { "unknown", new byte[] { 1, 0x0C, 0 } },                        // type 0x0C is not defined
        new object[] { "forward 2", new byte[] { 1, 0x10, 2 } },
        new object[] { "group order 0", new byte[] { 1, 0x22, 0 } },
        new object[] { "group order 3", new byte[] { 1, 0x22, 3 } },
        new object[] { "bad filter type", new byte[] { 1, 0x21, 1, 9 } },
        new object[] { "not in SUBSCRIBE", new byte[] { 1, 0x08, 5 } },              // EXPIRES is not a SUBSCRIBE parameter
        new object[] { "count lies", new byte[] { 50, 0x20, 1 } },
    };

    [Theory]
    [MemberData(nameof(BadParameterBlocks))]
    public void BadParametersInSubscribeAreProtocolViolation(string why, byte[] parameterBlock)
    {
        var w = new MoqWriter();
        w.WriteVarint((ulong)MoqMessageType.Subscribe);
        int at = w.BeginUInt16Length();
        w.WriteVarint(0);
        MoqMessageSamples.Track.Write(w);
        w.WriteBytes(parameterBlock);
        w.EndUInt16Length(at);
        Assert.False(MoqControlMessageCodec.TryParse(w.ToArray(), out _, out _, out var error), why);
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);
    }

    [Fact]
    public void BadTokenIsKeyValueFormattingError()
    {
        var w = new MoqWriter();
        w.WriteVarint((ulong)MoqMessageType.TrackStatus);
        int at = w.BeginUInt16Length();
        w.WriteVarint(0);
        MoqMessageSamples.Track.Write(w);
        w.WriteVarint(1); w.WriteVarint(3); w.WriteLengthPrefixed(new byte[] { 9 }); // alias type 9 does not exist
        w.EndUInt16Length(at);
        Assert.False(MoqControlMessageCodec.TryParse(w.ToArray(), out _, out _, out var error));
        Assert.Equal(MoqSessionError.KeyValueFormattingError, error.Code);
    }

    [Fact]
    public void RepeatableParametersMayRepeat()
    {
        var parameters = new MoqMessageParameters
        {
            AuthorizationTokens = { MoqAuthToken.UseValue(1, new byte[] { 1 }), MoqAuthToken.UseValue(1, new byte[] { 2 }) },
            RangeFilters =
            {
                new MoqRangeFilter(MoqParameterType.SubgroupFilter, 0, 0, new[] { new MoqRange(1, 1) }),
                new MoqRangeFilter(MoqParameterType.SubgroupFilter, 1, 0, new[] { new MoqRange(5, null) }),
            },
        };
        var back = (MoqFetch)RoundTrip(MoqFetch.CreateStandalone(0, MoqMessageSamples.Track, default, new MoqLocation(1, 0), parameters));
        Assert.Equal(2, back.Parameters.AuthorizationTokens.Count);
        Assert.Equal(2, back.Parameters.RangeFilters.Count);
    }

    [Fact]
    public void InvalidFetchTypeIsProtocolViolation()
    {
        var w = new MoqWriter();
        w.WriteVarint((ulong)MoqMessageType.Fetch);
        int at = w.BeginUInt16Length();
        w.WriteVarint(0); w.WriteVarint(4); w.WriteVarint(0); w.WriteVarint(0); w.WriteVarint(0);
        w.EndUInt16Length(at);
        Assert.False(MoqControlMessageCodec.TryParse(w.ToArray(), out _, out _, out var error));
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);
    }

    [Fact]
    public void DuplicateKnownSetupOptionIsRejectedButUnknownDuplicatesAreKept()
    {
        var pairs = new List<MoqKeyValuePair> { MoqKeyValuePair.FromInt(8, 1), MoqKeyValuePair.FromInt(8, 2) };
        Assert.False(MoqSetupOptions.TryParse(pairs, out _, out var error));
        Assert.Equal(MoqSessionError.ProtocolViolation, error.Code);
        pairs = new List<MoqKeyValuePair> { MoqKeyValuePair.FromInt(0x11C, 1), MoqKeyValuePair.FromInt(0x11C, 2) };
        Assert.True(MoqSetupOptions.TryParse(pairs, out var options, out _));
        Assert.Equal(2, options.Unknown.Count);
    }

    [Fact]
    public void RangeFilterFaultsAreLeftForInvalidFilter()
    {
        Assert.True(MoqRangeFilter.TryParse(MoqParameterType.PriorityFilter, new byte[] { 0, 0x80, 0xFF, 0 }, out var f, out _)); // start 255, end 255 ok
        Assert.Null(f.InvalidReason);
        Assert.True(MoqRangeFilter.TryParse(MoqParameterType.PriorityFilter, new byte[] { 0, 0x81, 0x00 }, out f, out _)); // start 256
        Assert.NotNull(f.InvalidReason);
        Assert.True(MoqRangeFilter.TryParse(MoqParameterType.ObjectPropertyFilter, new byte[] { 0, 3, 1 }, out f, out _)); // odd property type
        Assert.NotNull(f.InvalidReason);
    }

    private static MoqControlMessage RoundTrip(MoqControlMessage message)
    {
        Assert.True(MoqControlMessageCodec.TryParse(message.Encode(), out var back, out _, out var error), error.ToString());
        return back;
    }
}
