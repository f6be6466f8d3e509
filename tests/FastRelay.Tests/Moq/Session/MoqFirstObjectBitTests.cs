using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using FastRelay.Protocols.Moq.Wire.Messages;
using Xunit;

namespace FastRelay.Tests.Moq.Session;

/// <summary>
/// The SUBGROUP_HEADER's FIRST_OBJECT bit (0x40): an original publisher opening a new subgroup MUST set it (draft-19
/// §"Subgroups"). @moq/net drops every stream without it as "starting partway through a group", so without the bit a
/// browser subscriber received nothing at all.
/// </summary>
public sealed class MoqFirstObjectBitTests
{
    private static readonly MoqFullTrackName Track = new(MoqTrackNamespace.FromStrings("t"), "x");

    [Fact]
    public async Task A_new_subgroup_carries_FIRST_OBJECT_and_a_forwarded_tail_can_clear_it()
    {
        var handler = new DelegateHandler
        {
            Subscribe = async request =>
            {
                var publication = await request.AcceptAsync();
                var fresh = await publication.OpenSubgroupAsync(groupId: 1);
                await fresh.WriteObjectAsync(0, new byte[] { 1 });
                var tail = await publication.OpenSubgroupAsync(groupId: 2, firstObject: false);
                await tail.WriteObjectAsync(3, new byte[] { 2 });
            },
        };
        var (_, client) = await RawPeer.StartAgainstServerAsync(handler);
        var request = await client.OpenRequestAsync(new MoqSubscribe(0, Track, new MoqMessageParameters()));
        Assert.IsType<MoqSubscribeOk>(await RawPeer.ReadMessageAsync(request));

        var headers = new Dictionary<ulong, MoqSubgroupHeader>();
        using var timeout = new CancellationTokenSource(MoqSessionPair.Timeout);
        while (headers.Count < 2)
        {
            var stream = await client.Transport.AcceptStreamAsync(timeout.Token);
            var header = await ReadSubgroupHeaderAsync(stream, timeout.Token);
            if (header is not null) headers[header.GroupId] = header;
        }

        Assert.True(headers[1].FirstObject);
        Assert.Equal(0x40, headers[1].StreamType & 0x40);
        Assert.False(headers[2].FirstObject);
    }

    /// <summary>The SUBGROUP_HEADER at the start of a uni stream, or null for another stream type (the control stream).</summary>
    private static async Task<MoqSubgroupHeader?> ReadSubgroupHeaderAsync(IMoqStream stream, CancellationToken cancellationToken)
    {
        var buffer = new List<byte>();
        var chunk = new byte[256];
        while (true)
        {
            var bytes = buffer.ToArray();
            if (bytes.Length > 0 && MoqVarint.TryRead(bytes, out ulong type, out int typeLength))
            {
                if (!MoqSubgroupHeader.IsSubgroupType(type)) return null;
                if (MoqSubgroupHeader.TryParseAfterType(type, bytes.AsSpan(typeLength), out var header, out _, out _) == MoqParseStatus.Complete)
                    return header;
            }
            int n = await stream.ReadAsync(chunk, cancellationToken);
            if (n == 0) throw new EndOfStreamException();
            buffer.AddRange(chunk.AsSpan(0, n).ToArray());
        }
    }
}
