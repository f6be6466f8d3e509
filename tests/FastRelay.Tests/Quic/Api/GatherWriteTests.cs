using System.Text;
using FastRelay.Protocols.Quic.Api;
using Xunit;

namespace FastRelay.Tests.Quic.Api;

/// <summary>
/// QuicStream.WriteAsync(first, second): a header and its payload queued before one flush, so the header shares the
/// payload's packet (the MoQ relay used to send every object header in a packet of its own). 1-RTT encryption is off on
/// both ends so the capture can see which datagram carried which bytes.
/// </summary>
public sealed class GatherWriteTests
{
    [Fact]
    public async Task A_header_and_its_payload_leave_in_the_same_datagram_and_arrive_in_order()
    {
        await using var pair = await LoopbackPair.StartAsync(proxy: true,
            client: c => c.Disable1RttEncryption = true, server: s => s.Disable1RttEncryption = true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var stream = await pair.Client.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, timeout.Token);
        var expected = new MemoryStream();
        var headers = new List<byte[]>();
        for (int i = 0; i < 20; i++)
        {
            var header = Encoding.ASCII.GetBytes($"<HEADER-{i:D4}>");
            var payload = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat($"payload-{i:D4};", 60)));
            headers.Add(header);
            expected.Write(header);
            expected.Write(payload);
            await stream.WriteAsync(header, payload, completeWrites: i == 19, timeout.Token);
        }
        var reader = await pair.Server.AcceptInboundStreamAsync(timeout.Token);
        var received = new MemoryStream();
        await reader.CopyToAsync(received, timeout.Token);
        Assert.Equal(expected.ToArray(), received.ToArray());

        var wire = pair.Proxy!.Snapshot(toServer: true).Where(d => (d[0] & 0x80) == 0).ToList();
        for (int i = 0; i < headers.Count; i++)
        {
            var payloadStart = Encoding.ASCII.GetBytes($"payload-{i:D4};");
            var carrier = wire.FirstOrDefault(d => d.AsSpan().IndexOf(headers[i]) >= 0);
            Assert.NotNull(carrier);
            Assert.True(carrier.AsSpan().IndexOf(payloadStart) >= 0, $"object {i}: its header left without its payload");
        }
    }
}
