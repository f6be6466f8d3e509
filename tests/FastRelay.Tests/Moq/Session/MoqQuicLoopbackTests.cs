using System.Net;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Tests.Quic.Api;
using Xunit;

namespace FastRelay.Tests.Moq.Session;

/// <summary>The session over our real QUIC stack on loopback (ALPN moqt-19).</summary>
public class MoqQuicLoopbackTests
{
    [Fact]
    public async Task SetupSubscribeAndObjectsOverQuic()
    {
        await using var listener = await QuicListener.ListenAsync(new QuicListenerOptions
        {
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            ApplicationProtocols = [QuicMoqTransport.Alpn],
            ConnectionOptions = new QuicServerConnectionOptions { ServerCertificate = LoopbackPair.Certificate.Value, ApplicationProtocols = [QuicMoqTransport.Alpn] },
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var accept = listener.AcceptConnectionAsync(timeout.Token).AsTask();
        var clientConnection = await QuicConnection.ConnectAsync(new QuicClientConnectionOptions
        {
            RemoteEndPoint = listener.LocalEndPoint,
            ApplicationProtocols = [QuicMoqTransport.Alpn],
            SkipCertificateValidation = true,
        }, timeout.Token);
        var serverConnection = await accept;

        var track = new MoqFullTrackName(MoqTrackNamespace.FromStrings("quic"), "track");
        var published = new TaskCompletionSource<Protocols.Moq.Publisher.MoqTrackPublication>();
        var handler = new DelegateHandler { Subscribe = async r => published.SetResult(await r.AcceptAsync()) };
        var serverSession = MoqSession.AcceptAsync(new QuicMoqTransport(serverConnection), new MoqSessionOptions { Handler = handler });
        var client = await MoqSession.ConnectAsync(new QuicMoqTransport(clientConnection), new MoqSessionOptions { Path = "/q" }, timeout.Token);
        var server = await serverSession.WaitAsync(timeout.Token);
        Assert.Equal("/q", server.PeerSetup.Path);
        Assert.Equal(MoqTransportKind.Quic, client.Transport.Kind);
        Assert.Equal(0, client.Transport.MaxDatagramPayload);

        var subscription = await client.SubscribeAsync(track, cancellationToken: timeout.Token);
        var publication = await published.Task.WaitAsync(timeout.Token);
        for (ulong g = 0; g < 3; g++)
        {
            var stream = await publication.OpenSubgroupAsync(g);
            await stream.WriteObjectAsync(0, new byte[3000]);
            await stream.WriteObjectAsync(1, new byte[] { (byte)g });
            await stream.CompleteAsync();
        }
        await publication.FinishAsync();
        var objects = new List<Protocols.Moq.Wire.Data.MoqObject>();
        await foreach (var o in subscription.ReadObjectsAsync(timeout.Token)) objects.Add(o);
        Assert.Equal(6, objects.Count);
        Assert.Equal(3000, objects.First(o => o.ObjectId == 0).Payload.Length);

        await client.CloseAsync(MoqSessionError.Unauthorized, "go away");
        // The peer learns the MoQ termination code from the QUIC CONNECTION_CLOSE.
        Assert.Equal(MoqSessionError.Unauthorized, (await server.Terminated.WaitAsync(timeout.Token)).Code);
        await clientConnection.DisposeAsync();
        await serverConnection.DisposeAsync();
    }
}
