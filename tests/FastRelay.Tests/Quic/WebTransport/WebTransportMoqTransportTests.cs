using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Quic.Http3.WebTransport;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.Quic.WebTransport;

/// <summary>The MoQ transport contract over WebTransport sessions: what the MoQ session layer will rely on.</summary>
public sealed class WebTransportMoqTransportTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Streams_datagrams_and_close_work_through_the_moq_contract()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/moq", new WebTransportPathOptions { Protocols = ["moqt-19"], RequireProtocol = true }));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using IMoqTransport client = new WebTransportMoqTransport(await wt.ConnectAsync("/moq", ["moqt-19"], cancellationToken: timeout.Token));
        IMoqTransport server = new WebTransportMoqTransport(await wt.Server.AcceptSessionAsync(timeout.Token));
        Assert.Equal("moqt-19", client.Protocol);
        Assert.Equal("moqt-19", server.Protocol);
        Assert.Null(server.CloseErrorCode);
        Assert.Equal(MoqTransportKind.WebTransport, server.Kind);
        Assert.Equal(System.Net.IPAddress.Loopback, ((System.Net.IPEndPoint)server.RemoteEndPoint).Address);

        // Control stream (bidi) from the client, answered by the server.
        var control = await client.OpenStreamAsync(bidirectional: true, timeout.Token);
        await control.WriteAsync("SETUP"u8.ToArray(), cancellationToken: timeout.Token);
        var accepted = await server.AcceptStreamAsync(timeout.Token);
        Assert.True(accepted.IsBidirectional);
        var buffer = new byte[16];
        Assert.Equal(5, await accepted.ReadAsync(buffer, timeout.Token));
        await accepted.WriteAsync("OK"u8.ToArray(), completeWrites: true, timeout.Token);
        Assert.Equal(2, await control.ReadAsync(buffer, timeout.Token));
        Assert.Equal(0, await control.ReadAsync(buffer, timeout.Token));

        // A subgroup stream (uni) from the server, with a priority set, then reset with a MoQ code.
        var subgroup = await server.OpenStreamAsync(bidirectional: false, timeout.Token);
        subgroup.SendPriority = 3;
        Assert.Equal(3, subgroup.SendPriority);
        Assert.False(subgroup.CanRead);
        await subgroup.WriteAsync(new byte[] { 0x10, 1, 2 }, cancellationToken: timeout.Token);
        var incoming = await client.AcceptStreamAsync(timeout.Token);
        Assert.False(incoming.IsBidirectional);
        Assert.Equal(3, await incoming.ReadAsync(buffer, timeout.Token));
        subgroup.Reset(0x5);
        var reset = await Assert.ThrowsAsync<WebTransportException>(async () => await incoming.ReadAsync(buffer, timeout.Token));
        Assert.Equal(5u, reset.ApplicationErrorCode);
        Assert.Throws<ArgumentOutOfRangeException>(() => subgroup.Reset(1UL << 40));

        // OBJECT_DATAGRAM-sized datagrams.
        Assert.True(client.MaxDatagramPayload > 1000);
        Assert.True(client.TrySendDatagram(new byte[] { 7, 7, 7 }));
        Assert.Equal([7, 7, 7], (await server.ReceiveDatagramAsync(timeout.Token)).ToArray());
        Assert.False(client.TrySendDatagram(new byte[client.MaxDatagramPayload + 1]));

        // Session termination with a MoQ code reaches the peer; codes beyond 32 bits cannot be carried.
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await server.CloseAsync(1UL << 33, "too big"));
        await server.CloseAsync(0x10, "GOAWAY timeout", timeout.Token);
        await client.Closed.WaitAsync(timeout.Token);
        Assert.Equal(0x10UL, client.CloseErrorCode);
        Assert.Equal(0x10UL, server.CloseErrorCode);
        var info = await ((WebTransportMoqTransport)client).Session.Closed;
        Assert.Equal(0x10u, info.ErrorCode);
        Assert.Equal("GOAWAY timeout", info.Reason);
        await Assert.ThrowsAsync<WebTransportException>(async () => await client.OpenStreamAsync(true, timeout.Token));
    }

    [Fact]
    public async Task A_session_without_a_negotiated_protocol_cannot_carry_moq()
    {
        await using var wt = await WebTransportLoopback.StartAsync(output, s => s.Map("/wt"));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var session = await wt.ConnectAsync("/wt", cancellationToken: timeout.Token);
        Assert.Throws<ArgumentException>(() => new WebTransportMoqTransport(session));
    }
}
