using System.Collections.Concurrent;
using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Moq.Session;
using Xunit;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>
/// The session's subgroup tap (the hook the fast-path glue uses on a publisher's connection): it sees each incoming
/// subgroup stream's header as on the wire and every later byte with its offset, in order and without gaps, and how
/// the stream ended; the session's own object delivery is unchanged.
/// </summary>
public sealed class MoqSubgroupTapTests
{
    private sealed class Recorder : IMoqSubgroupTap
    {
        public ConcurrentQueue<Stream> Streams { get; } = new();

        public IMoqSubgroupStreamTap? OnSubgroupStream(long streamId, MoqSubgroupHeader header, ReadOnlySpan<byte> rawHeader)
        {
            var s = new Stream(streamId, header, rawHeader.ToArray());
            Streams.Enqueue(s);
            return s;
        }
    }

    private sealed class Stream(long id, MoqSubgroupHeader header, byte[] rawHeader) : IMoqSubgroupStreamTap
    {
        public long Id => id;
        public MoqSubgroupHeader Header => header;
        public byte[] RawHeader => rawHeader;
        public MemoryStream Body { get; } = new();
        public bool? Finished { get; private set; }
        public string? Gap { get; private set; }

        public void OnBytes(long offset, ReadOnlySpan<byte> bytes)
        {
            if (offset != rawHeader.Length + Body.Length) Gap ??= $"bytes at {offset}, expected {rawHeader.Length + Body.Length}";
            Body.Write(bytes);
        }

        public void OnEnd(bool finished) => Finished = finished;
    }

    [Fact]
    public async Task Tap_sees_the_raw_subgroup_stream_byte_exact_and_delivery_is_unchanged()
    {
        var recorder = new Recorder();
        var published = new TaskCompletionSource<MoqTrackPublication>(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new DelegateHandler { Subscribe = async r => published.SetResult(await r.AcceptAsync()) };
        await using var pair = await MoqSessionPair.StartAsync(serverHandler: handler, client: o => o with { SubgroupTap = recorder });
        var track = new MoqFullTrackName(MoqTrackNamespace.FromStrings("tap"), "t");
        var subscription = await pair.Client.SubscribeAsync(track);
        var publication = await published.Task.WaitAsync(MoqSessionPair.Timeout);

        // Objects of very different sizes, so the reader's fills split them in many ways.
        var payloads = Enumerable.Range(0, 40).Select(i => Enumerable.Range(0, 1 + i * 397 % 9000).Select(b => (byte)(b * 7 + i)).ToArray()).ToList();
        var subgroup = await publication.OpenSubgroupAsync(3);
        for (var i = 0; i < payloads.Count; i++)
            await subgroup.WriteObjectAsync((ulong)i * 2, payloads[i]);
        await subgroup.CompleteAsync();

        var delivered = new List<MoqObject>();
        await foreach (var obj in subscription.ReadObjectsAsync(new CancellationTokenSource(MoqSessionPair.Timeout).Token))
        {
            delivered.Add(obj);
            if (delivered.Count == payloads.Count) break;
        }
        Assert.Equal(payloads, delivered.Select(o => o.Payload.ToArray()));
        await Eventually.TrueAsync(() => recorder.Streams.TryPeek(out var s) && s.Finished is not null, "the tapped stream ended");

        var tapped = Assert.Single(recorder.Streams);
        Assert.Null(tapped.Gap);
        Assert.True(tapped.Finished);
        // The raw header parses to the header the session saw, and is exactly that long.
        Assert.Equal(MoqParseStatus.Complete, MoqStreamHeader.TryParse(tapped.RawHeader, out var kind, out var header, out _, out var consumed, out _));
        Assert.Equal(MoqStreamKind.Subgroup, kind);
        Assert.Equal(tapped.RawHeader.Length, consumed);
        Assert.Equal(tapped.Header, header);
        // The bytes after it are the objects, every one, and nothing else.
        var reader = new MoqSubgroupObjectReader(header!);
        var body = (ReadOnlyMemory<byte>)tapped.Body.ToArray();
        var parsed = new List<MoqObject>();
        while (!body.IsEmpty)
        {
            Assert.Equal(MoqParseStatus.Complete, reader.TryRead(body, out var obj, out var used, out _, out _));
            parsed.Add(obj with { Payload = obj.Payload.ToArray() });
            body = body[used..];
        }
        Assert.Equal(payloads, parsed.Select(o => o.Payload.ToArray()));
        Assert.Equal(Enumerable.Range(0, payloads.Count).Select(i => (ulong)i * 2), parsed.Select(o => o.ObjectId));
    }

    [Fact]
    public async Task Without_a_tap_nothing_changes_and_a_null_tap_ignores_the_stream()
    {
        var ignoring = new NullTap();
        var published = new TaskCompletionSource<MoqTrackPublication>(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new DelegateHandler { Subscribe = async r => published.SetResult(await r.AcceptAsync()) };
        await using var pair = await MoqSessionPair.StartAsync(serverHandler: handler, client: o => o with { SubgroupTap = ignoring });
        var subscription = await pair.Client.SubscribeAsync(new MoqFullTrackName(MoqTrackNamespace.FromStrings("tap"), "n"));
        var publication = await published.Task.WaitAsync(MoqSessionPair.Timeout);
        var subgroup = await publication.OpenSubgroupAsync(0);
        await subgroup.WriteObjectAsync(0, new byte[] { 1, 2, 3 });
        await subgroup.CompleteAsync();
        await foreach (var obj in subscription.ReadObjectsAsync(new CancellationTokenSource(MoqSessionPair.Timeout).Token))
        {
            Assert.Equal(new byte[] { 1, 2, 3 }, obj.Payload.ToArray());
            break;
        }
        Assert.Equal(1, ignoring.Asked);
    }

    private sealed class NullTap : IMoqSubgroupTap
    {
        public int Asked;
        public IMoqSubgroupStreamTap? OnSubgroupStream(long streamId, MoqSubgroupHeader header, ReadOnlySpan<byte> rawHeader)
        {
            Interlocked.Increment(ref Asked);
            return null;
        }
    }
}
