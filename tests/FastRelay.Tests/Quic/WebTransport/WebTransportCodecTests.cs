using System.Buffers;
using System.Text;
using FastRelay.Protocols.Quic.Http3;
using FastRelay.Protocols.Quic.Http3.Qpack;
using FastRelay.Protocols.Quic.Http3.WebTransport;
using Xunit;

namespace FastRelay.Tests.Quic.WebTransport;

/// <summary>Capsules, structured-field protocol lists, error-code mapping, SETTINGS and extended CONNECT validation.</summary>
public sealed class WebTransportCodecTests
{
    private static byte[] CloseCapsule(uint code, string message)
    {
        var output = new ArrayBufferWriter<byte>();
        Capsule.WriteCloseSession(output, code, message);
        return output.WrittenSpan.ToArray();
    }

    private static List<ReceivedCapsule> FeedInPieces(byte[] bytes, int piece)
    {
        var parser = new CapsuleStreamParser();
        var all = new List<ReceivedCapsule>();
        for (int i = 0; i < bytes.Length; i += piece)
        {
            var completed = new List<ReceivedCapsule>();
            Assert.True(parser.TryFeed(bytes.AsSpan(i, Math.Min(piece, bytes.Length - i)), completed, out var error), error.ToString());
            all.AddRange(completed);
        }
        Assert.True(parser.AtBoundary);
        return all;
    }

    [Fact]
    public void Close_drain_datagram_and_unknown_capsules_parse_the_same_whatever_the_split()
    {
        var stream = new ArrayBufferWriter<byte>();
        Capsule.WriteCloseSession(stream, 0xdeadbeef, "gone fishing — ünïcode");
        Capsule.WriteDrainSession(stream);
        Capsule.Write(stream, 0x17, new byte[3000]);            // unknown: skipped
        Capsule.Write(stream, CapsuleType.Datagram, [1, 2, 3]);
        Capsule.Write(stream, CapsuleType.DrainSession, [9, 9]); // DRAIN with a (meaningless) payload
        var bytes = stream.WrittenSpan.ToArray();
        foreach (int piece in new[] { 1, 2, 3, 7, 64, 1000, bytes.Length })
        {
            var capsules = FeedInPieces(bytes, piece);
            Assert.Equal([CapsuleType.CloseSession, CapsuleType.DrainSession, CapsuleType.Datagram, CapsuleType.DrainSession], capsules.Select(c => c.Type));
            Assert.True(Capsule.TryReadCloseSession(capsules[0].Payload, out var close, out _));
            Assert.Equal(0xdeadbeefu, close.ErrorCode);
            Assert.Equal("gone fishing — ünïcode", close.Message);
            Assert.Equal([1, 2, 3], capsules[2].Payload);
        }
    }

    [Fact]
    public void A_huge_unknown_capsule_is_skipped_without_buffering_it()
    {
        var parser = new CapsuleStreamParser();
        var header = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteVarint(header, 0x1234);
        Http3FrameCodec.WriteVarint(header, 1UL << 40); // a terabyte announced
        var completed = new List<ReceivedCapsule>();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.True(parser.TryFeed(header.WrittenSpan, completed, out _));
        var chunk = new byte[4096];
        for (int i = 0; i < 100; i++)
            Assert.True(parser.TryFeed(chunk, completed, out _));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024, "skipping must not store the payload");
        Assert.Empty(completed);
        Assert.False(parser.AtBoundary);
    }

    [Fact]
    public void Close_longer_than_1028_bytes_is_a_message_error_before_it_is_buffered()
    {
        var header = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteVarint(header, CapsuleType.CloseSession);
        Http3FrameCodec.WriteVarint(header, 4 + 1025);
        var parser = new CapsuleStreamParser();
        Assert.False(parser.TryFeed(header.WrittenSpan, [], out var error));
        Assert.Equal(Http3ErrorCode.MessageError, error.Code);
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 0 })]                     // shorter than the code
    [InlineData(new byte[] { 0, 0, 0, 1, 0xc3, 0x28 })]     // invalid UTF-8
    [InlineData(new byte[] { 0, 0, 0, 1, 0xff })]
    public void Malformed_close_payloads_are_message_errors(byte[] payload)
    {
        Assert.False(Capsule.TryReadCloseSession(payload, out _, out var error));
        Assert.Equal(Http3ErrorCode.MessageError, error.Code);
    }

    [Fact]
    public void A_long_close_message_is_cut_at_a_character_boundary_to_1024_bytes()
    {
        string message = string.Concat(Enumerable.Repeat("€", 500)); // 3 bytes each: 1500 bytes
        var capsules = FeedInPieces(CloseCapsule(7, message), 100);
        Assert.True(Capsule.TryReadCloseSession(capsules[0].Payload, out var close, out _));
        Assert.Equal(341, close.Message.Length); // 1023 bytes: the 342nd euro would not fit whole
        Assert.True(Encoding.UTF8.GetByteCount(close.Message) <= 1024);
    }

    [Theory]
    [InlineData("\"moqt-19\"", new[] { "moqt-19" })]
    [InlineData("\"moqt-20\", \"moqt-19\";q=1", new[] { "moqt-20", "moqt-19" })]
    [InlineData("\"a\\\"b\",\t\"c\\\\d\"", new[] { "a\"b", "c\\d" })]
    [InlineData("", new string[0])]
    [InlineData("  \"x\";p;q=\"s\"", new[] { "x" })]
    public void Protocol_lists_parse(string field, string[] expected)
    {
        Assert.True(StructuredFieldStrings.TryParseList(field, out var list));
        Assert.Equal(expected, list);
    }

    [Theory]
    [InlineData("moqt-19")]                 // a token, not a string
    [InlineData("\"moqt-19\", 42")]         // an integer member
    [InlineData("\"unterminated")]
    [InlineData("\"a\",")]                  // trailing comma
    [InlineData("\"a\" \"b\"")]             // missing comma
    [InlineData("\"bad\\escape\"")]
    [InlineData("\"tab\tinside\"")]
    [InlineData("\"a\";UPPER")]
    public void Malformed_protocol_lists_are_rejected_whole(string field)
    {
        Assert.False(StructuredFieldStrings.TryParseList(field, out _));
    }

    [Fact]
    public void Protocol_lists_are_bounded()
    {
        Assert.False(StructuredFieldStrings.TryParseList(string.Join(",", Enumerable.Repeat("\"p\"", StructuredFieldStrings.MaxMembers + 1)), out _));
        Assert.False(StructuredFieldStrings.TryParseList("\"" + new string('a', StructuredFieldStrings.MaxFieldLength) + "\"", out _));
    }

    [Fact]
    public void Items_round_trip_and_reject_non_strings()
    {
        foreach (var value in new[] { "moqt-19", "with \"quotes\" and \\", "" })
        {
            Assert.True(StructuredFieldStrings.TryParseItem(StructuredFieldStrings.SerializeString(value), out var parsed));
            Assert.Equal(value, parsed);
        }
        Assert.False(StructuredFieldStrings.TryParseItem("moqt-19", out _));
        Assert.False(StructuredFieldStrings.TryParseItem("\"a\", \"b\"", out _));
        Assert.Throws<ArgumentException>(() => StructuredFieldStrings.SerializeString("é"));
    }

    [Fact]
    public void Application_error_codes_map_into_the_http3_range_skipping_reserved_codepoints()
    {
        Assert.Equal(0x52e4a40fa8db, WebTransportErrorCodes.ToHttp3(0));
        Assert.Equal(0x52e5ac983162, WebTransportErrorCodes.ToHttp3(uint.MaxValue));
        var rng = new Random(5);
        var samples = Enumerable.Range(0, 2000).Select(_ => (uint)rng.NextInt64(0, 1L << 32)).Concat(new uint[] { 0, 1, 0x1d, 0x1e, 0x1f, 0x3c, uint.MaxValue });
        foreach (uint code in samples)
        {
            long wire = WebTransportErrorCodes.ToHttp3(code);
            Assert.NotEqual(0, (wire - 0x21) % 0x1f);
            Assert.True(WebTransportErrorCodes.TryFromHttp3(wire, out uint back));
            Assert.Equal(code, back);
        }
        // Consecutive codes stay consecutive except across a reserved codepoint, which is skipped.
        for (uint code = 0; code < 200; code++)
        {
            long step = WebTransportErrorCodes.ToHttp3(code + 1) - WebTransportErrorCodes.ToHttp3(code);
            Assert.InRange(step, 1, 2);
            if (step == 2) Assert.Equal(0, (WebTransportErrorCodes.ToHttp3(code) + 1 - 0x21) % 0x1f);
        }
        Assert.False(WebTransportErrorCodes.TryFromHttp3(WebTransportErrorCodes.First - 1, out _));
        Assert.False(WebTransportErrorCodes.TryFromHttp3(WebTransportErrorCodes.Last + 1, out _));
        Assert.False(WebTransportErrorCodes.TryFromHttp3(WebTransportHttp3Error.SessionGone, out _));
        long reserved = WebTransportErrorCodes.First + (0x1f - (WebTransportErrorCodes.First - 0x21) % 0x1f) % 0x1f;
        Assert.Equal(0, (reserved - 0x21) % 0x1f);
        Assert.False(WebTransportErrorCodes.TryFromHttp3(reserved, out _));
    }

    [Fact]
    public void Server_settings_round_trip_and_satisfy_the_client_check()
    {
        var output = new ArrayBufferWriter<byte>();
        WebTransportSettings.ForServer(maxSessions: 3).WriteFrame(output);
        Assert.Equal(Http3ParseStatus.Ok, Http3FrameCodec.TryReadFrame(output.WrittenSpan, 1024, out ulong type, out var payload, out _, out _));
        Assert.Equal((ulong)Http3FrameType.Settings, type);
        Assert.True(Http3Settings.TryParse(payload, out var parsed, out _));
        Assert.Null(WebTransportSettings.MissingOnServer(parsed));
        Assert.Equal(3UL, WebTransportSettings.Get(parsed, WebTransportSettingId.MaxSessionsDraft07));
        Assert.Equal(1UL, WebTransportSettings.Get(parsed, WebTransportSettingId.EnableWebTransportDraft02));
        Assert.Equal(1UL, WebTransportSettings.Get(parsed, WebTransportSettingId.EnableConnectProtocol));
        Assert.Equal(1UL, WebTransportSettings.Get(parsed, WebTransportSettingId.H3Datagram));
        // Plain HTTP/3 SETTINGS offer no WebTransport; a client without H3_DATAGRAM cannot have sessions.
        Assert.NotNull(WebTransportSettings.MissingOnServer(Http3Settings.Ours));
        Assert.NotNull(WebTransportSettings.MissingOnClient(Http3Settings.Ours));
        Assert.Null(WebTransportSettings.MissingOnClient(WebTransportSettings.ForClient()));
    }

    private static List<HttpField> Connect(params (string, string)[] extra) =>
    [
        new(":method", "CONNECT"), new(":protocol", "webtransport"), new(":scheme", "https"), new(":authority", "h:1"), new(":path", "/wt"),
        .. extra.Select(e => new HttpField(e.Item1, e.Item2)),
    ];

    [Fact]
    public void Extended_connect_is_accepted_only_where_enabled_and_only_whole()
    {
        Assert.True(Http3Message.TryValidateRequest(Connect(("origin", "http://x")), out var request, out _, allowExtendedConnect: true));
        Assert.Equal("webtransport", request.Protocol);
        Assert.Equal("/wt", request.Path);
        Assert.Equal("http://x", request.Header("origin"));
        // Without SETTINGS_ENABLE_CONNECT_PROTOCOL, :protocol is an unknown pseudo-header.
        Assert.False(Http3Message.TryValidateRequest(Connect(), out _, out var error));
        Assert.Equal(Http3ErrorCode.MessageError, error.Code);
        foreach (var missing in new[] { ":scheme", ":path", ":authority" })
            Assert.False(Http3Message.TryValidateRequest(Connect().Where(f => f.Name != missing).ToList(), out _, out _, allowExtendedConnect: true), missing);
        var get = Connect().Select(f => f.Name == ":method" ? new HttpField(":method", "GET") : f).ToList();
        Assert.False(Http3Message.TryValidateRequest(get, out _, out _, allowExtendedConnect: true));
        var twice = Connect().Prepend(new HttpField(":protocol", "x")).ToList();
        Assert.False(Http3Message.TryValidateRequest(twice, out _, out _, allowExtendedConnect: true));
    }

    [Fact]
    public void Random_capsule_streams_never_throw_and_stay_bounded()
    {
        var rng = new Random(42);
        for (int run = 0; run < 2000; run++)
        {
            var bytes = new byte[rng.Next(0, 200)];
            rng.NextBytes(bytes);
            var parser = new CapsuleStreamParser();
            var completed = new List<ReceivedCapsule>();
            int offset = 0;
            while (offset < bytes.Length)
            {
                int n = rng.Next(1, bytes.Length - offset + 1);
                if (!parser.TryFeed(bytes.AsSpan(offset, n), completed, out var error))
                {
                    Assert.Equal(Http3ErrorCode.MessageError, error.Code);
                    break;
                }
                offset += n;
            }
            Assert.All(completed, c => Assert.True(c.Payload.Length <= CapsuleStreamParser.MaxDatagramCapsule));
            foreach (var close in completed.Where(c => c.Type == CapsuleType.CloseSession))
                Capsule.TryReadCloseSession(close.Payload, out _, out _);
        }
    }
}
