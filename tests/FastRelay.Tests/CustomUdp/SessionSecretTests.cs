using System.Buffers.Binary;
using System.Net;
using FastRelay.Protocols.CustomUdp.Clients;
using FastRelay.Protocols.CustomUdp.Relay;
using FastRelay.Protocols.CustomUdp.Wire;
using FastRelay.Relay;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace FastRelay.Tests.CustomUdp;

/// <summary>
/// After the cookie handshake only the source address used to authenticate a subscriber, and a source address is easy to
/// spoof: an UNSUBSCRIBE, FEEDBACK or NACK from a known address kicked, throttled or flooded it. The relay's REPLY now
/// carries a session secret that these messages must carry; the ones here (as an off-path attacker would send them,
/// without it) must change nothing. The relay runs in this process (userspace plane, loopback).
/// </summary>
public sealed class SessionSecretTests
{
    private const ushort Channel = 6;

    /// <summary>A control message of the given type and body as someone who never saw the REPLY can write it.</summary>
    private static byte[] Forged(ControlType type, ReadOnlySpan<byte> bodyAfterType)
    {
        var packet = new byte[CustomUdpWire.HeaderSize + 1 + bodyAfterType.Length];
        PacketHeader.Control(Channel, 0, 0).Write(packet);
        packet[CustomUdpWire.HeaderSize] = (byte)type;
        bodyAfterType.CopyTo(packet.AsSpan(CustomUdpWire.HeaderSize + 1));
        return packet;
    }

    private static byte[] ForgedNack(ulong session, bool withSession)
    {
        var body = new byte[(withSession ? 8 : 0) + 2 + 6];
        var o = 0;
        if (withSession)
        {
            BinaryPrimitives.WriteUInt64BigEndian(body, session);
            o = 8;
        }
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(o), 1);
        BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(o + 2), 0);
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(o + 6), 1000);
        return Forged(ControlType.Nack, body);
    }

    [Fact]
    public async Task Control_messages_without_the_session_secret_neither_kick_nor_get_repairs()
    {
        using var socket = CustomUdpRelay.OpenSocket(0);
        var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        var options = new RelayOptions { Port = port, MaxSubscribers = 4 };
        using var relay = new CustomUdpRelay(socket, options, CustomUdpRelay.UserspacePlane(socket, 4),
            remote => new KernelSubscriber(0, Channel, remote, new IPEndPoint(IPAddress.Loopback, port), 0, new byte[6], new byte[6]),
            NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var running = Task.Factory.StartNew(() => relay.Run(stop.Token), TaskCreationOptions.LongRunning);
        var endpoint = new IPEndPoint(IPAddress.Loopback, port);
        Task<PublisherReport> Publish() => new Publisher(new PublisherOptions
        {
            Relay = endpoint, Channel = Channel, RatePps = 500, Duration = TimeSpan.FromMilliseconds(300),
        }).RunAsync();
        try
        {
            using var subscriber = new RawSubscriber(endpoint, Channel);
            Assert.Equal(ReplyStatus.Accepted, subscriber.Subscribe().Status);
            Assert.True((await Publish()).Accepted);
            Assert.True(subscriber.CountUntilQuiet(TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(5)).Data > 0);

            // From the subscriber's own address, which is all an off-path attacker needs to forge: no secret, or a guess.
            subscriber.Send(ForgedNack(0, withSession: false));
            subscriber.Send(ForgedNack(0x0123_4567_89AB_CDEF, withSession: true));
            Assert.Equal(0, subscriber.CountUntilQuiet(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5)).Repairs);

            subscriber.Send(Forged(ControlType.Unsubscribe, []));
            subscriber.Send(Forged(ControlType.Unsubscribe, new byte[8]));
            await Task.Delay(200);

            // Still subscribed: its own NACK, with the secret, is answered (a removed subscriber's would not be).
            subscriber.SendNack([new NackRange(0, 3)]);
            Assert.Equal(3, subscriber.CountUntilQuiet(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5)).Repairs);
        }
        finally
        {
            stop.Cancel();
            await running;
        }
    }
}
