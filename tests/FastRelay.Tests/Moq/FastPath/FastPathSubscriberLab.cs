using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using FastRelay.Cli.Lab;
using FastRelay.Protocols.Moq.Relay.FastPath;
using FastRelay.Protocols.Quic.Api;
using FastRelay.Relay;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Quic.Api;
using Microsoft.Extensions.Logging.Abstractions;
using G = FastRelay.Protocols.Quic.QuicMoqHeaderFastPath;

namespace FastRelay.Tests.Moq.FastPath;

/// <summary>
/// One relay QUIC connection on the kernel fast path, in a lab of its own (a relay with two interfaces, one subscriber
/// host): the quic_moq programs attached in the relay namespace, a <see cref="MoqKernelPlane"/>, the relay's listener
/// (GRO off: the programs must see datagrams one by one; GSO off on its connections), a subscriber of our stack
/// (0xBAAD) connected over IPv4, and the relay's side of that connection activated on the fast path once its handshake is
/// confirmed. Disposal removes it all, in reverse order, the lab last.
/// </summary>
internal sealed class FastPathSubscriberLab : IAsyncDisposable
{
    private FastPathSubscriberLab(LabNetwork lab, FastPathHost host, MoqKernelPlane plane, QuicListener listener, IPEndPoint relayLocal)
    {
        Lab = lab;
        Host = host;
        Plane = plane;
        Listener = listener;
        RelayLocal = relayLocal;
    }

    public LabNetwork Lab { get; }
    public FastPathHost Host { get; }
    public MoqKernelPlane Plane { get; }
    public QuicListener Listener { get; }
    public IPEndPoint RelayLocal { get; }
    public QuicConnection Subscriber { get; private set; } = null!;
    public QuicConnection Relay { get; private set; } = null!;
    public FastPathSubscriberConnection FastPath { get; private set; } = null!;

    /// <param name="prefix">The test's name prefix (4 letters); a random suffix keeps parallel runs apart.</param>
    /// <param name="client">Changes to the subscriber's connection options.</param>
    /// <param name="ackFrequency">What the relay asks the subscriber for at activation (null: nothing).</param>
    public static async Task<FastPathSubscriberLab> StartAsync(GeneratedObjects objects, string prefix, CancellationToken cancellationToken,
        Action<QuicClientConnectionOptions>? client = null, FastPathAckFrequency? ackFrequency = null)
    {
        prefix += Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2));
        var lab = await LabTopology.UpAsync(new LabOptions { Prefix = prefix, Subscribers = 1, RelayInterfaces = 2 }, cancellationToken);
        FastPathHost? host = null;
        MoqKernelPlane? plane = null;
        FastPathSubscriberLab? started = null;
        try
        {
            var down = lab.RelayDownstream;
            host = await lab.RunInAsync(lab.Relay, () => FastPathHost.Start(
                new FastPathHostOptions(G.Protocol, objects.ObjectPath(G.Protocol), prefix + "-moq", [lab.RelayUpstream.Name, down.Name], lab.BpfFsPath),
                NullLogger.Instance));
            plane = new MoqKernelPlane(host.Object, G.UdpPort, NullLogger.Instance);
            var relayLocal = new IPEndPoint(down.Address(AddressFamily.InterNetwork), G.UdpPort);
            var listener = await await lab.RunInAsync(lab.Relay, () => QuicListener.ListenAsync(new QuicListenerOptions
            {
                ListenEndPoint = relayLocal, ApplicationProtocols = ["test"], ReceiveCoalescing = false,
                ConnectionOptions = new QuicServerConnectionOptions
                {
                    ServerCertificate = LoopbackPair.Certificate.Value, ApplicationProtocols = ["test"], Disable1RttEncryption = true,
                    AllowSegmentationOffload = false,
                },
            }).AsTask());
            started = new FastPathSubscriberLab(lab, host, plane, listener, relayLocal);
            var accepting = listener.AcceptConnectionAsync(cancellationToken).AsTask();
            var options = new QuicClientConnectionOptions
            {
                RemoteEndPoint = relayLocal, ApplicationProtocols = ["test"], SkipCertificateValidation = true, Disable1RttEncryption = true,
            };
            client?.Invoke(options);
            started.Subscriber = await await lab.RunInAsync(lab.Subscribers[0], () => QuicConnection.ConnectAsync(options, cancellationToken).AsTask());
            started.Relay = await accepting;

            // Numbering moves to the kernel once the handshake is confirmed (HANDSHAKE_DONE acknowledged).
            var relay = started.Relay;
            var address = await lab.RunInAsync(lab.Relay, () => FastPathSubscriberAddress.Resolve(relayLocal, relay.RemoteEndPoint, relay.DestinationConnectionId));
            FastPathSubscriberConnection? binding = null;
            await Eventually.TrueAsync(() =>
            {
                try { binding = FastPathSubscriberConnection.Activate(plane, relay, address, NullLogger.Instance, ackFrequency); return true; }
                catch (InvalidOperationException) { return false; }
            }, "the relay's connection accepts external numbering (handshake confirmed)");
            started.FastPath = binding!;
            return started;
        }
        catch
        {
            if (started is not null) await started.DisposeAsync();
            else
            {
                plane?.Dispose();
                host?.Dispose();
                await lab.DisposeAsync();
            }
            throw;
        }
    }

    /// <summary>
    /// The relay opens the subscriber's copy of upstream stream <paramref name="upstreamStream"/> (of the publisher
    /// sending to <paramref name="publisherCid"/>) with its own header <paramref name="ownHeader"/>, writes that header,
    /// and maps it on channel 1; the subscriber reads the whole stream (<c>Reading</c> completes at its FIN).
    /// </summary>
    public async Task<(FastPathSubgroupStream Subgroup, Task<byte[]> Reading)> MapSubgroupAsync(ulong upstreamStream, byte[] ownHeader,
        int upstreamHeaderLength, byte[] publisherCid, CancellationToken cancellationToken)
    {
        var stream = await Relay.OpenOutboundStreamAsync(QuicStreamType.Unidirectional, cancellationToken);
        var subgroup = FastPath.StartSubgroup(stream, upstreamStream, ownHeader, upstreamHeaderLength, ReadOnlyMemory<byte>.Empty, urgency: 1);
        await subgroup.WritePrefixAsync(cancellationToken);
        Plane.JoinChannel(FastPath.Slot, 1);
        Plane.MapUpstreamStream(publisherCid, upstreamStream, 1);
        var reading = Task.Run(async () =>
        {
            var s = await Subscriber.AcceptInboundStreamAsync(cancellationToken);
            var into = new MemoryStream();
            await s.CopyToAsync(into, cancellationToken);
            return into.ToArray();
        }, cancellationToken);
        return (subgroup, reading);
    }

    public async ValueTask DisposeAsync()
    {
        FastPath?.Dispose();
        if (Relay is not null) await Relay.DisposeAsync();
        if (Subscriber is not null) await Subscriber.DisposeAsync();
        await Listener.DisposeAsync();
        Plane.Dispose();
        Host.Dispose();
        await Lab.DisposeAsync();
    }
}
