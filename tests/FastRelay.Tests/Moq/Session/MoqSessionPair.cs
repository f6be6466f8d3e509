using FastRelay.Protocols.Moq.Publisher;
using FastRelay.Protocols.Moq.Session;
using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Messages;
using Xunit;

namespace FastRelay.Tests.Moq.Session;

/// <summary>A client and a server session over <see cref="MemoryMoqTransport"/>.</summary>
internal sealed class MoqSessionPair : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public required MoqSession Client { get; init; }
    public required MoqSession Server { get; init; }
    public required MemoryMoqTransport ClientTransport { get; init; }
    public required MemoryMoqTransport ServerTransport { get; init; }

    public static async Task<MoqSessionPair> StartAsync(IMoqRequestHandler? serverHandler = null, IMoqRequestHandler? clientHandler = null,
        Func<MoqSessionOptions, MoqSessionOptions>? server = null, Func<MoqSessionOptions, MoqSessionOptions>? client = null)
    {
        var (ct, st) = MemoryMoqTransport.CreatePair();
        var serverOptions = new MoqSessionOptions { Handler = serverHandler, Implementation = "test-server" };
        var clientOptions = new MoqSessionOptions { Handler = clientHandler, Implementation = "test-client", Path = "/live", Authority = "relay.test" };
        var accept = MoqSession.AcceptAsync(st, server?.Invoke(serverOptions) ?? serverOptions);
        var connect = MoqSession.ConnectAsync(ct, client?.Invoke(clientOptions) ?? clientOptions);
        await Task.WhenAll(accept, connect).WaitAsync(Timeout);
        return new MoqSessionPair { Client = connect.Result, Server = accept.Result, ClientTransport = ct, ServerTransport = st };
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
    }
}

/// <summary>A handler made of delegates, for tests.</summary>
internal sealed class DelegateHandler : IMoqRequestHandler
{
    public Func<MoqIncomingSubscribe, Task>? Subscribe { get; init; }
    public Func<MoqIncomingFetch, Task>? Fetch { get; init; }
    public Func<MoqIncomingTrackStatus, Task>? TrackStatus { get; init; }
    public Func<MoqIncomingSubscribeNamespace, Task>? SubscribeNamespace { get; init; }
    public Func<MoqIncomingPublishNamespace, Task>? PublishNamespace { get; init; }
    public Func<MoqIncomingPublish, Task>? Publish { get; init; }

    Task IMoqRequestHandler.OnSubscribeAsync(MoqIncomingSubscribe r, CancellationToken c) => Subscribe?.Invoke(r) ?? r.RejectAsync(MoqRequestErrorCode.NotSupported);
    Task IMoqRequestHandler.OnFetchAsync(MoqIncomingFetch r, CancellationToken c) => Fetch?.Invoke(r) ?? r.RejectAsync(MoqRequestErrorCode.NotSupported);
    Task IMoqRequestHandler.OnTrackStatusAsync(MoqIncomingTrackStatus r, CancellationToken c) => TrackStatus?.Invoke(r) ?? r.RejectAsync(MoqRequestErrorCode.NotSupported);
    Task IMoqRequestHandler.OnSubscribeNamespaceAsync(MoqIncomingSubscribeNamespace r, CancellationToken c) => SubscribeNamespace?.Invoke(r) ?? r.RejectAsync(MoqRequestErrorCode.NotSupported);
    Task IMoqRequestHandler.OnPublishNamespaceAsync(MoqIncomingPublishNamespace r, CancellationToken c) => PublishNamespace?.Invoke(r) ?? r.RejectAsync(MoqRequestErrorCode.NotSupported);
    Task IMoqRequestHandler.OnPublishAsync(MoqIncomingPublish r, CancellationToken c) => Publish?.Invoke(r) ?? r.RejectAsync(MoqRequestErrorCode.Uninterested);
}

/// <summary>
/// A hand-driven peer on one side of a memory transport: it sends raw bytes where a session would send messages,
/// to check what our session does with malformed or illegal input.
/// </summary>
internal sealed class RawPeer
{
    public required MemoryMoqTransport Transport { get; init; }
    public required IMoqStream Control { get; init; }

    /// <summary>A session on the server side and a raw client that has sent its SETUP.</summary>
    public static async Task<(MoqSession Server, RawPeer Client)> StartAgainstServerAsync(IMoqRequestHandler? handler = null,
        Func<MoqSessionOptions, MoqSessionOptions>? options = null)
    {
        var (ct, st) = MemoryMoqTransport.CreatePair();
        var serverOptions = new MoqSessionOptions { Handler = handler };
        var accept = MoqSession.AcceptAsync(st, options?.Invoke(serverOptions) ?? serverOptions);
        var control = await ct.OpenStreamAsync(false);
        await control.WriteAsync(new MoqSetup(new MoqSetupOptions { Implementation = "raw" }).Encode());
        var server = await accept.WaitAsync(MoqSessionPair.Timeout);
        return (server, new RawPeer { Transport = ct, Control = control });
    }

    /// <summary>Waits for the transport to close and returns the code it closed with.</summary>
    public async Task<ulong?> ClosedWithAsync()
    {
        await Transport.Closed.WaitAsync(MoqSessionPair.Timeout);
        return Transport.CloseErrorCode;
    }

    public async Task<IMoqStream> OpenRequestAsync(MoqControlMessage message)
    {
        var stream = await Transport.OpenStreamAsync(true);
        await stream.WriteAsync(message.Encode());
        return stream;
    }

    /// <summary>Reads one control message from a stream (test helper; expects it to arrive whole within the timeout).</summary>
    public static async Task<MoqControlMessage> ReadMessageAsync(IMoqStream stream)
    {
        var buffer = new List<byte>();
        var chunk = new byte[4096];
        using var cts = new CancellationTokenSource(MoqSessionPair.Timeout);
        while (true)
        {
            var bytes = buffer.ToArray();
            if (MoqControlMessageCodec.TryReadFrame(bytes, out _, out int h, out int b, out _) == MoqParseStatus.Complete)
            {
                Assert.True(MoqControlMessageCodec.TryParse(bytes, out var message, out _, out var error), error.ToString());
                return message;
            }
            int n = await stream.ReadAsync(chunk, cts.Token);
            if (n == 0) throw new EndOfStreamException();
            buffer.AddRange(chunk.AsSpan(0, n).ToArray());
        }
    }
}
