using System.Security.Cryptography;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Tests.Quic.Api;
using Xunit;

namespace FastRelay.Tests.Quic.Robustness;

/// <summary>
/// RFC 9000 §9: the client's address changes under it (a NAT rebinding) in the middle of a download. The server must
/// follow it — validate the new path, send there — or the client hears nothing until its idle timeout.
/// </summary>
public class NatRebindingTests
{
    [Fact]
    public async Task A_download_survives_the_client_address_changing_in_the_middle()
    {
        await using var pair = await LoopbackPair.StartAsync(proxy: true);
        var proxy = pair.Proxy!;
        var data = RandomNumberGenerator.GetBytes(4 << 20);
        // Far below the 30 s idle timeout that ends a connection whose server keeps sending to the old address.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var upload = Task.Run(async () =>
        {
            var stream = await pair.Server.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, deadline.Token);
            await stream.WriteAsync(data, completeWrites: true, deadline.Token);
        });
        var incoming = await pair.Client.AcceptInboundStreamAsync(deadline.Token);
        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        bool rebound = false;
        try
        {
            int n;
            while ((n = await incoming.ReadAsync(buffer, deadline.Token)) > 0)
            {
                received.Write(buffer, 0, n);
                if (!rebound && received.Length >= 1 << 20)
                {
                    proxy.RebindServerSide();
                    rebound = true;
                }
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"download stalled after the rebinding: {received.Length} of {data.Length} bytes in 20 s");
        }
        await upload.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(rebound);
        Assert.Equal(data.Length, received.Length);
        Assert.True(data.AsSpan().SequenceEqual(received.GetBuffer().AsSpan(0, (int)received.Length)));
        // The bytes after the move reached the client through the new port: the server sent there.
        Assert.True(proxy.FromServerSinceRebind > 0);
    }
}
