using System.Buffers;
using FastRelay.Protocols.Quic.Http3;
using FastRelay.Protocols.Quic.Wire;
using Xunit;

namespace FastRelay.Tests.Quic.Http3;

public class Http3FrameTests
{
    private static byte[] Frame(ulong type, byte[] payload)
    {
        var output = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteFrame(output, type, payload);
        return output.WrittenSpan.ToArray();
    }

    [Fact]
    public void Frames_round_trip_with_exact_layout()
    {
        var data = Frame((ulong)Http3FrameType.Data, [1, 2, 3]);
        Assert.Equal(new byte[] { 0x00, 0x03, 1, 2, 3 }, data);
        Assert.Equal(Http3ParseStatus.Ok, Http3FrameCodec.TryReadFrame(data, 1024, out ulong type, out var payload, out int consumed, out _));
        Assert.Equal((0UL, 5), (type, consumed));
        Assert.Equal(new byte[] { 1, 2, 3 }, payload.ToArray());

        var goAway = new ArrayBufferWriter<byte>();
        Http3FrameCodec.WriteSingleVarintFrame(goAway, Http3FrameType.GoAway, 400);
        Assert.Equal(new byte[] { 0x07, 0x02, 0x41, 0x90 }, goAway.WrittenSpan.ToArray());
        Assert.Equal(Http3ParseStatus.Ok, Http3FrameCodec.TryReadFrame(goAway.WrittenSpan, 1024, out type, out payload, out _, out _));
        Assert.True(Http3FrameCodec.TryReadSingleVarint(payload, out ulong id, out _));
        Assert.Equal((7UL, 400UL), (type, id));
    }

    [Fact]
    public void Settings_round_trip_and_keep_unknown_ids()
    {
        var settings = new Http3Settings { QpackMaxTableCapacity = 0, QpackBlockedStreams = 0, MaxFieldSectionSize = 16384, Other = [new(0x1f * 3 + 0x21, 7)] };
        var output = new ArrayBufferWriter<byte>();
        settings.WriteFrame(output);
        Assert.Equal(Http3ParseStatus.Ok, Http3FrameCodec.TryReadFrame(output.WrittenSpan, 1024, out ulong type, out var payload, out _, out _));
        Assert.Equal((ulong)Http3FrameType.Settings, type);
        Assert.True(Http3Settings.TryParse(payload, out var parsed, out _));
        Assert.Equal(16384UL, parsed.MaxFieldSectionSize);
        Assert.Equal(0UL, parsed.QpackMaxTableCapacity);
        Assert.Equal([new KeyValuePair<ulong, ulong>(0x1f * 3 + 0x21, 7)], parsed.Other);
    }

    [Theory]
    [InlineData("0100 0100", Http3ErrorCode.SettingsError)] // duplicate id
    [InlineData("0200", Http3ErrorCode.SettingsError)]      // HTTP/2 SETTINGS_ENABLE_PUSH
    [InlineData("0500", Http3ErrorCode.SettingsError)]      // HTTP/2 SETTINGS_MAX_FRAME_SIZE
    [InlineData("01", Http3ErrorCode.FrameError)]           // id without value
    [InlineData("0140", Http3ErrorCode.FrameError)]         // truncated 2-byte value
    public void Bad_settings_are_rejected(string hex, Http3ErrorCode code)
    {
        Assert.False(Http3Settings.TryParse(Convert.FromHexString(hex.Replace(" ", "")), out _, out var error));
        Assert.Equal(code, error.Code);
    }

    [Fact]
    public void Single_varint_payload_must_be_exact()
    {
        Assert.False(Http3FrameCodec.TryReadSingleVarint([], out _, out var error));
        Assert.Equal(Http3ErrorCode.FrameError, error.Code);
        Assert.False(Http3FrameCodec.TryReadSingleVarint([0x04, 0x00], out _, out error));
        Assert.Equal(Http3ErrorCode.FrameError, error.Code);
        Assert.False(Http3FrameCodec.TryReadSingleVarint([0x40], out _, out _));
    }

    [Fact]
    public void Oversized_control_frames_fail_before_the_payload_arrives()
    {
        // A HEADERS frame announcing 2^62-1 bytes: the header alone is enough to refuse it, nothing is allocated.
        var header = new byte[9];
        header[0] = 0x01;
        QuicVarint.Write(header.AsSpan(1), QuicVarint.MaxValue, 8);
        Assert.Equal(Http3ParseStatus.Error, Http3FrameCodec.TryReadHeader(header, 65536, out _, out var error));
        Assert.Equal(Http3ErrorCode.ExcessiveLoad, error.Code);
        // DATA and unknown frames are streamed or skipped, so their header is accepted...
        header[0] = 0x00;
        Assert.Equal(Http3ParseStatus.Ok, Http3FrameCodec.TryReadHeader(header, 65536, out var data, out _));
        Assert.Equal((long)QuicVarint.MaxValue, data.Length);
        header[0] = 0x21;
        Assert.Equal(Http3ParseStatus.Ok, Http3FrameCodec.TryReadHeader(header, 65536, out _, out _));
        // ...but buffering a whole DATA frame above the cap is refused too.
        Assert.Equal(Http3ParseStatus.Error, Http3FrameCodec.TryReadFrame(Frame(0, new byte[100]), 50, out _, out _, out _, out error));
        Assert.Equal(Http3ErrorCode.ExcessiveLoad, error.Code);
    }

    [Fact]
    public void Truncated_frames_need_more_data()
    {
        var frame = Frame((ulong)Http3FrameType.Headers, new byte[300]);
        for (int cut = 0; cut < frame.Length; cut++)
            Assert.Equal(Http3ParseStatus.NeedMoreData, Http3FrameCodec.TryReadFrame(frame.AsSpan(0, cut), 1024, out _, out _, out _, out _));
    }

    [Fact]
    public void Reserved_types_are_recognised()
    {
        Assert.True(Http3FrameCodec.IsReserved(0x21));
        Assert.True(Http3FrameCodec.IsReserved(0x21 + 0x1f * 1000));
        Assert.False(Http3FrameCodec.IsReserved(0x22));
        Assert.False(Http3FrameCodec.IsKnown(0x21));
        Assert.True(Http3FrameCodec.IsHttp2Only(0x06)); // PING
    }

    [Fact]
    public async Task Stream_reader_skips_unknown_frames_and_streams_data()
    {
        var (client, server) = InMemoryHttp3Connection.CreatePair();
        var stream = await client.OpenOutboundStreamAsync(FastRelay.Protocols.Quic.Api.QuicStreamType.Bidirectional);
        var inbound = await server.AcceptInboundStreamAsync();
        var bytes = new List<byte>();
        bytes.AddRange(Frame(0x21, new byte[40_000]));          // reserved, bigger than the reader's buffer
        bytes.AddRange(Frame(0x1f * 7 + 0x21, []));             // reserved, empty
        bytes.AddRange(Frame((ulong)Http3FrameType.Data, Enumerable.Range(0, 100_000).Select(i => (byte)i).ToArray()));
        // Delivered one byte at a time for the first 50 bytes to exercise partial headers.
        var all = bytes.ToArray();
        for (int i = 0; i < 50; i++)
            await stream.WriteAsync(all.AsMemory(i, 1), false);
        await stream.WriteAsync(all.AsMemory(50), true);

        var reader = new Http3StreamReader(inbound);
        var types = new List<ulong>();
        long dataBytes = 0;
        var buffer = new byte[7000];
        while (await reader.ReadFrameHeaderAsync(default) is { } header)
        {
            types.Add(header.Type);
            if (header.Type != 0)
            {
                await reader.SkipAsync(header.Length, default);
                continue;
            }
            for (long left = header.Length; left > 0;)
            {
                int n = await reader.ReadSomeAsync(buffer.AsMemory(0, (int)Math.Min(left, buffer.Length)), default);
                for (int k = 0; k < n; k++)
                    Assert.Equal((byte)(dataBytes + k), buffer[k]);
                dataBytes += n;
                left -= n;
            }
        }
        Assert.Equal([0x21UL, 0x1f * 7 + 0x21, 0UL], types);
        Assert.Equal(100_000, dataBytes);
    }

    [Fact]
    public void Fuzz_frames_and_settings_never_throw()
    {
        var random = new Random(9114);
        int frames = 0;
        for (int i = 0; i < 25_000; i++)
        {
            var input = new byte[random.Next(0, 40)];
            random.NextBytes(input);
            if (input.Length > 0 && random.Next(2) == 0)
                input[0] = (byte)random.Next(0, 14); // mostly known types
            if (input.Length > 1 && random.Next(2) == 0)
                input[1] = (byte)random.Next(0, input.Length); // plausible lengths
            ReadOnlySpan<byte> rest = input;
            while (true)
            {
                var status = Http3FrameCodec.TryReadFrame(rest, 32, out ulong type, out var payload, out int consumed, out var error);
                if (status == Http3ParseStatus.Error)
                {
                    Assert.Equal(Http3ErrorCode.ExcessiveLoad, error.Code);
                    break;
                }
                if (status == Http3ParseStatus.NeedMoreData)
                    break;
                frames++;
                Assert.True(consumed > 0);
                switch (type)
                {
                    case (ulong)Http3FrameType.Settings:
                        if (!Http3Settings.TryParse(payload, out _, out error))
                            Assert.True(error.Code is Http3ErrorCode.SettingsError or Http3ErrorCode.FrameError);
                        break;
                    case (ulong)Http3FrameType.GoAway or (ulong)Http3FrameType.MaxPushId or (ulong)Http3FrameType.CancelPush:
                        if (!Http3FrameCodec.TryReadSingleVarint(payload, out _, out error))
                            Assert.Equal(Http3ErrorCode.FrameError, error.Code);
                        break;
                    case (ulong)Http3FrameType.PushPromise:
                        if (Http3FrameCodec.TryReadPushPromise(payload, out _, out var section, out _))
                            FastRelay.Protocols.Quic.Http3.Qpack.QpackDecoder.TryDecode(section, [], out _);
                        break;
                    case (ulong)Http3FrameType.Headers:
                        FastRelay.Protocols.Quic.Http3.Qpack.QpackDecoder.TryDecode(payload, [], out _);
                        break;
                }
                rest = rest[consumed..];
            }
        }
        Assert.True(frames > 5000, $"only {frames} frames parsed");
    }
}
