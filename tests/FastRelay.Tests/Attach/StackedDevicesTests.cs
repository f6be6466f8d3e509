using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using FastRelay.Bpf;
using FastRelay.Cli.Lab;
using FastRelay.Net;
using FastRelay.Relay;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Runtime;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using Xunit.Abstractions;
using G = FastRelay.Protocols.CustomUdp.CustomUdpHeaderFastPath;

namespace FastRelay.Tests.Attach;

/// <summary>
/// The fast path on a relay host whose devices are stacked (issue 13 item 3): the relay's addresses are on a bridge
/// (veth ports) and on a macvlan device (over a veth), a publisher and subscribers sit behind each. The host attaches with
/// its defaults (every device that is up), the custom_udp object does the copying, and each subscriber's socket must
/// receive every packet of its channel exactly once, numbered once (0, 1, 2, ... by the kernel), from the relay's
/// address on its side, with a UDP checksum its kernel accepts. Then the relay's own stack sends to each subscriber:
/// those packets continue the same numbering, one number each. The kernel's counters show one clone per subscriber per
/// packet and one rewrite per copy. The second run also puts the egress program on the devices below (the bridge ports
/// and the macvlan's lower device), as a VLAN's lower device has it: the kernel's own device check must then keep the
/// copies and the stack's packets from being numbered a second time there.
/// </summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class StackedDevicesTests(GeneratedObjects objects, ITestOutputHelper output)
{
    private const int Packets = 40, StackPackets = 5, PayloadLength = 64;
    private const int PublisherPortBridge = 7001, PublisherPortMacvlan = 7002;

    private sealed record Sub(uint Slot, string Namespace, IPAddress Address, int Port, ushort Channel, IPAddress RelayAddress);

    [LabTheory(needsClang: true)]
    [InlineData(false)]
    [InlineData(true)]
    public void Behind_a_bridge_and_a_macvlan_every_subscriber_gets_each_packet_once_numbered_once(bool egressAlsoBelow)
    {
        // Blocking calls into the namespaces only: a continuation queued from a namespace thread can make the thread pool
        // start a worker there, and whatever test then runs on that worker runs in this lab's namespace.
        using var lab = new StackedDevicesLab();
        using var host = NetnsThread.Run(lab.NsRelay, () => FastPathHost.Start(
            new FastPathHostOptions(G.Protocol, objects.ObjectPath(G.Protocol), lab.Prefix), NullLogger.Instance));
        var below = new List<TcAttachment>();
        if (egressAlsoBelow)
            below.AddRange(NetnsThread.Run(lab.NsRelay, () =>
                new[] { lab.BridgePortToPublisher, lab.BridgePortToSubscriber, lab.MacvlanLower }
                    .Select(d => TcAttach.Attach(host.Object.Program("fr_subscriber_egress"), NetDevice.IndexOf(d), TcDirection.Egress,
                        TcAttachMode.Auto, NullLogger.Instance))
                    .ToList()));
        using var detachBelow = new DisposeAll(below);
        foreach (var a in host.Attachments.Concat(below))
            output.WriteLine(a.ToString());
        var maps = new G.Maps(host.Object);
        maps.Config.Update(0u, new G.Config { UdpPort = G.UdpPort });

        // Channel 1 is published from behind the bridge, channel 2 from behind the macvlan; each side has a subscriber of each.
        Sub[] subs =
        [
            new(0, lab.NsBridgeSubscriber, StackedDevicesLab.BridgeSubscriberAddress, 6001, 1, StackedDevicesLab.RelayBridgeAddress),
            new(1, lab.NsBridgeSubscriber, StackedDevicesLab.BridgeSubscriberAddress, 6002, 2, StackedDevicesLab.RelayBridgeAddress),
            new(2, lab.NsMacvlanHost, StackedDevicesLab.MacvlanHostAddress, 6001, 1, StackedDevicesLab.RelayMacvlanAddress),
            new(3, lab.NsMacvlanHost, StackedDevicesLab.MacvlanHostAddress, 6002, 2, StackedDevicesLab.RelayMacvlanAddress),
        ];
        var sockets = new List<Socket>();
        try
        {
            foreach (var sub in subs)
                sockets.Add(Activate(lab, maps, sub));
            SetChannel(maps, 1, new IPEndPoint(StackedDevicesLab.PublisherAddress, PublisherPortBridge), [0, 2]);
            SetChannel(maps, 2, new IPEndPoint(StackedDevicesLab.MacvlanHostAddress, PublisherPortMacvlan), [1, 3]);

            // The relay's own socket: takes the originals (no ICMP back to the publishers) and sends as the relay's stack.
            using var relay = NetnsThread.CreateUdpSocket(lab.NsRelay, new IPEndPoint(IPAddress.Any, G.UdpPort));
            using var publisherBridge = NetnsThread.CreateUdpSocket(lab.NsPublisher, new IPEndPoint(StackedDevicesLab.PublisherAddress, PublisherPortBridge));
            using var publisherMacvlan = NetnsThread.CreateUdpSocket(lab.NsMacvlanHost, new IPEndPoint(StackedDevicesLab.MacvlanHostAddress, PublisherPortMacvlan));
            for (var k = 0; k < Packets; k++)
            {
                publisherBridge.SendTo(Datagram(1, 500 + (ulong)k, k), new IPEndPoint(StackedDevicesLab.RelayBridgeAddress, G.UdpPort));
                publisherMacvlan.SendTo(Datagram(2, 900 + (ulong)k, k), new IPEndPoint(StackedDevicesLab.RelayMacvlanAddress, G.UdpPort));
            }
            foreach (var sub in subs)
            {
                var received = Receive(sockets[(int)sub.Slot], Packets, () => Counters(maps));
                for (var k = 0; k < Packets; k++)
                {
                    var (data, from) = received[k];
                    var what = $"slot {sub.Slot} (channel {sub.Channel}) copy {k}";
                    Assert.Equal(new IPEndPoint(sub.RelayAddress, G.UdpPort), from);
                    Assert.True(Datagram(sub.Channel, (ulong)k, k).AsSpan().SequenceEqual(data),
                        $"{what}: got packet number {ReadPacketNumber(data)}, channel {BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(2))}");
                }
            }

            // The relay's stack sends to each subscriber: the kernel numbers each packet once, after the copies.
            foreach (var sub in subs)
                for (var k = 0; k < StackPackets; k++)
                    relay.SendTo(Datagram(sub.Channel, 0xABCD, 1000 + k), new IPEndPoint(sub.Address, sub.Port));
            foreach (var sub in subs)
            {
                var received = Receive(sockets[(int)sub.Slot], StackPackets, () => Counters(maps));
                for (var k = 0; k < StackPackets; k++)
                    Assert.True(Datagram(sub.Channel, (ulong)(Packets + k), 1000 + k).AsSpan().SequenceEqual(received[k].Data),
                        $"slot {sub.Slot} stack packet {k}: got packet number {ReadPacketNumber(received[k].Data)}");
            }

            var counters = Counters(maps);
            output.WriteLine(string.Join(", ", counters.Where(c => c.Value != 0).Select(c => $"{c.Key}={c.Value}")));
            Assert.Equal(2UL * Packets, Counter(counters, "UpstreamMatched")); // each upstream packet fanned out once
            Assert.Equal(4UL * Packets, Counter(counters, "Clones"));          // one clone per subscriber per packet
            Assert.Equal(4UL * Packets, Counter(counters, "EgressRewritten"));   // each copy rewritten once
            Assert.Equal(4UL * StackPackets, Counter(counters, "EgressUserspaceNumbered"));
            Assert.Equal(0UL, Counter(counters, "EgressWrongDevice"));
            Assert.Equal(0UL, Counter(counters, "CloneNoEgressProgram"));
            foreach (var sub in subs)
            {
                var stats = maps.SubscriberStats.Lookup(sub.Slot);
                Assert.Equal((ulong)Packets, stats.ForwardedPackets);
                Assert.Equal((ulong)StackPackets, stats.UserspacePackets);
                Assert.Equal((ulong)(Packets + StackPackets), maps.NextPacketNumbers.Lookup(sub.Slot));
            }
            // Nothing else is on its way: every subscriber's socket is empty once the counters are final.
            Assert.All(sockets, s => Assert.Equal(0, s.Available));
        }
        finally
        {
            foreach (var socket in sockets)
                socket.Dispose();
        }
    }

    [LabFact]
    public void The_attach_plan_puts_the_programs_on_the_bridge_and_the_macvlan_never_on_their_ports_and_lower_devices()
    {
        using var lab = new StackedDevicesLab();
        var links = NetnsThread.Run(lab.NsRelay, LinkTable.Read);
        var index = links.ToDictionary(l => l.Name, l => l.Ifindex);
        Assert.Equal(index[lab.Bridge], links.Single(l => l.Name == lab.BridgePortToPublisher).Master);
        Assert.Equal(index[lab.MacvlanLower], links.Single(l => l.Name == lab.Macvlan).Lower);
        Assert.Equal("macvlan", links.Single(l => l.Name == lab.Macvlan).Kind);
        Assert.Equal(0, links.Single(l => l.Name == lab.MacvlanLower).Lower); // a veth's peer is not a lower device

        // Every device named (the default: every device that is up), in any order.
        var plan = AttachPlan.For([lab.BridgePortToPublisher, lab.MacvlanLower, lab.Bridge, lab.BridgePortToSubscriber, lab.Macvlan], links);
        Assert.Equal([lab.Bridge, lab.Macvlan], plan.Devices.Select(d => d.Name));
        // Where a killed relay of an earlier version may have left filters: the host removes stale ones there.
        Assert.Equal([lab.BridgePortToPublisher, lab.MacvlanLower, lab.BridgePortToSubscriber], plan.Skipped.Select(d => d.Name));
        Assert.Equal(index[lab.Bridge], plan.Devices[0].Ifindex);
        Assert.Contains(plan.Notes, n => n.Contains(lab.BridgePortToPublisher) && n.Contains($"port of bridge {lab.Bridge}"));
        Assert.Contains(plan.Notes, n => n.Contains(lab.MacvlanLower) && n.Contains($"lower device of macvlan {lab.Macvlan}"));

        // A port alone means its master.
        Assert.Equal([lab.Bridge], AttachPlan.For([lab.BridgePortToSubscriber], links).Devices.Select(d => d.Name));
        Assert.Throws<ArgumentException>(() => AttachPlan.For([lab.Prefix + "none"], links));
        // The host's default list in that namespace covers every device but lo.
        var defaults = NetnsThread.Run(lab.NsRelay, () => FastPathHost.DefaultInterfaces());
        Assert.Equal(new[] { lab.Bridge, lab.BridgePortToPublisher, lab.BridgePortToSubscriber, lab.MacvlanLower, lab.Macvlan }.Order(StringComparer.Ordinal),
            defaults.Order(StringComparer.Ordinal));
    }

    [LabFact(needsClang: true)]
    public async Task A_VLAN_tagged_frame_is_not_fanned_out_by_the_device_it_arrives_on()
    {
        // The publisher's frames reach the bridge tagged (a VLAN device over the bridge would take them, if this kernel had
        // one): the bridge's ingress program must leave them to it, as it does at a VLAN's lower device.
        using var lab = new StackedDevicesLab();
        var tagger = Path.Combine(objects.Directory, $"vlan_tag_{lab.Prefix}.o");
        var clang = await FastRelay.Cli.Gen.ClangToolchain.FindAsync(BpfCapabilities.FindClang(), CancellationToken.None);
        await clang.CompileBpfAsync(Path.Combine(RepoPaths.Root, "tests", "FastRelay.Tests", "Attach", "vlan_tag.bpf.c"), tagger, [], [], CancellationToken.None);
        using var tagging = BpfObject.Load(tagger);
        using var host = NetnsThread.Run(lab.NsRelay, () => FastPathHost.Start(
            new FastPathHostOptions(G.Protocol, objects.ObjectPath(G.Protocol), lab.Prefix), NullLogger.Instance));
        var maps = new G.Maps(host.Object);
        maps.Config.Update(0u, new G.Config { UdpPort = G.UdpPort });
        var sub = new Sub(0, lab.NsBridgeSubscriber, StackedDevicesLab.BridgeSubscriberAddress, 6001, 1, StackedDevicesLab.RelayBridgeAddress);
        using var socket = Activate(lab, maps, sub);
        SetChannel(maps, 1, new IPEndPoint(StackedDevicesLab.PublisherAddress, PublisherPortBridge), [0]);
        using var relay = NetnsThread.CreateUdpSocket(lab.NsRelay, new IPEndPoint(IPAddress.Any, G.UdpPort));
        using var publisher = NetnsThread.CreateUdpSocket(lab.NsPublisher, new IPEndPoint(StackedDevicesLab.PublisherAddress, PublisherPortBridge));
        var to = new IPEndPoint(StackedDevicesLab.RelayBridgeAddress, G.UdpPort);

        publisher.SendTo(Datagram(1, 500, 0), to);
        Assert.Equal(Datagram(1, 0, 0), Receive(socket, 1, () => Counters(maps))[0].Data);
        var seen = Counter(Counters(maps), "UpstreamSeen");

        using (NetnsThread.Run(lab.NsPublisher, () => TcAttach.Attach(tagging.Program("vlan_tag"), NetDevice.IndexOf(lab.PublisherDevice),
                   TcDirection.Egress, TcAttachMode.Auto, NullLogger.Instance)))
        {
            for (var k = 1; k <= 10; k++)
                publisher.SendTo(Datagram(1, 500 + (ulong)k, k), to);
        }
        // Untagged again: the next copy the subscriber gets is this one, numbered 1; none of the tagged ones was fanned out.
        publisher.SendTo(Datagram(1, 511, 11), to);
        Assert.Equal(Datagram(1, 1, 11), Receive(socket, 1, () => Counters(maps))[0].Data);
        var counters = Counters(maps);
        Assert.Equal(seen + 1, Counter(counters, "UpstreamSeen")); // the tagged frames were not even looked at
        Assert.Equal(2UL, Counter(counters, "Clones"));
    }

    [LabFact(needsClang: true)]
    public void Filters_a_killed_relay_left_on_a_bridge_port_are_removed_at_start()
    {
        // A relay from before AttachPlan attached everywhere; killed, its clsact filters stay and would keep numbering this
        // relay's subscribers' packets on the port.
        using var lab = new StackedDevicesLab();
        var port = NetnsThread.Run(lab.NsRelay, () => NetDevice.IndexOf(lab.BridgePortToSubscriber));
        using (var killed = BpfObject.Load(objects.ObjectPath(G.Protocol)))
            NetnsThread.Run(lab.NsRelay, () => TcAttach.Attach(killed.Program("fr_subscriber_egress"), port, TcDirection.Egress, TcAttachMode.Clsact));
        Assert.Single(NetnsThread.Run(lab.NsRelay, () => StaleAttachments.Find(port)));

        using var host = NetnsThread.Run(lab.NsRelay, () => FastPathHost.Start(
            new FastPathHostOptions(G.Protocol, objects.ObjectPath(G.Protocol), lab.Prefix), NullLogger.Instance));
        Assert.Empty(NetnsThread.Run(lab.NsRelay, () => StaleAttachments.Find(port)));
        Assert.DoesNotContain(host.Attachments, a => a.Ifindex == port);
    }

    [LabFact(needsClang: true)]
    public void A_relay_attached_to_some_devices_knows_it_gets_no_kernel_copies_for_subscribers_behind_the_others()
    {
        // The MoQ relay told to attach to the bridge only: a subscriber behind the macvlan must stay on the userspace path
        // (FastPathSubscriberConnection.Activate asks ClonesTo), since upstream ingress makes it no clone.
        using var lab = new StackedDevicesLab();
        var (bridge, macvlan) = NetnsThread.Run(lab.NsRelay, () => (NetDevice.IndexOf(lab.Bridge), NetDevice.IndexOf(lab.Macvlan)));
        using var plane = NetnsThread.Run(lab.NsRelay, () => FastRelay.Protocols.Moq.Relay.FastPath.MoqKernelPlane.Start(
            new FastPathHostOptions(FastRelay.Protocols.Quic.QuicMoqHeaderFastPath.Protocol,
                objects.ObjectPath(FastRelay.Protocols.Quic.QuicMoqHeaderFastPath.Protocol), lab.Prefix + "-moq", [lab.Bridge]),
            FastRelay.Protocols.Quic.QuicMoqHeaderFastPath.UdpPort, NullLogger.Instance));
        Assert.True(plane.ClonesTo(bridge));
        Assert.False(plane.ClonesTo(macvlan));
    }

    /// <summary>What the relay's userspace writes at activation: the route's device and MACs. Returns the subscriber's socket.</summary>
    private static Socket Activate(StackedDevicesLab lab, G.Maps maps, Sub sub)
    {
        var socket = NetnsThread.CreateUdpSocket(sub.Namespace, new IPEndPoint(sub.Address, sub.Port));
        var route = NetnsThread.Run(lab.NsRelay, () => RouteResolver.Resolve(sub.Address));
        Assert.Equal(sub.RelayAddress.Equals(StackedDevicesLab.RelayBridgeAddress) ? lab.Bridge : lab.Macvlan, route.Device);
        var s = new G.Subscriber
        {
            Active = 1, IfIndex = (uint)route.Ifindex, Channel = new G.ChannelKey { Id = sub.Channel },
            Local = Endpoint(new IPEndPoint(route.Source, G.UdpPort)), Remote = Endpoint(new IPEndPoint(sub.Address, sub.Port)),
        };
        route.DeviceMac.GetAddressBytes().CopyTo(s.MacSource);
        route.NextHopMac.GetAddressBytes().CopyTo(s.MacDestination);
        maps.Subscribers.Update(sub.Slot, s);
        maps.SubscribersByEndpoint.Update(s.Remote, sub.Slot);
        maps.NextPacketNumbers.Update(sub.Slot, 0UL);
        return socket;
    }

    private sealed class DisposeAll(IEnumerable<IDisposable> items) : IDisposable
    {
        public void Dispose()
        {
            foreach (var item in items)
                item.Dispose();
        }
    }

    private static byte[] Datagram(ushort channel, ulong packetNumber, int k)
    {
        var header = CustomUdpProtocol.Instance.Header(new HeaderFields { Channel = channel, PacketNumber = packetNumber });
        var payload = Enumerable.Range(0, PayloadLength).Select(i => (byte)(k * 7 + i + channel)).ToArray();
        return [.. header, .. payload];
    }

    private static ulong ReadPacketNumber(byte[] data) => data.Length >= 8 ? CustomUdpProtocol.Instance.ReadPacketNumber(data) : ulong.MaxValue;

    private static void SetChannel(G.Maps maps, ushort id, IPEndPoint upstream, uint[] slots)
    {
        var channel = new G.Channel { Upstream = Endpoint(upstream), Count = (uint)slots.Length };
        for (var i = 0; i < slots.Length; i++)
            channel.Slots[i] = slots[i];
        maps.Channels.Update(new G.ChannelKey { Id = id }, channel);
    }

    private static G.Endpoint Endpoint(IPEndPoint e)
    {
        var ep = new G.Endpoint { Family = EndpointBytes.Family(e), Port = EndpointBytes.NetworkPort(e) };
        EndpointBytes.Address(e).CopyTo(ep.Address);
        return ep;
    }

    /// <summary>count datagrams in arrival order, with their sender; a generous per-datagram deadline (two shared cores).</summary>
    private static List<(byte[] Data, IPEndPoint From)> Receive(Socket socket, int count, Func<IReadOnlyDictionary<string, ulong>> counters)
    {
        socket.ReceiveTimeout = 10_000;
        var buffer = new byte[2048];
        var received = new List<(byte[], IPEndPoint)>();
        while (received.Count < count)
        {
            EndPoint from = new IPEndPoint(IPAddress.Any, 0);
            try
            {
                var n = socket.ReceiveFrom(buffer, ref from);
                received.Add((buffer.AsSpan(0, n).ToArray(), (IPEndPoint)from));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
            {
                throw new Xunit.Sdk.XunitException($"{received.Count} of {count} datagrams arrived at {socket.LocalEndPoint}; kernel counters: " +
                    string.Join(", ", counters().Where(c => c.Value != 0).Select(c => $"{c.Key}={c.Value}")));
            }
        }
        return received;
    }

    /// <summary>The relay-wide counters by name, summed over CPUs.</summary>
    private static IReadOnlyDictionary<string, ulong> Counters(G.Maps maps)
    {
        var perCpu = maps.Stats.LookupPerCpu(0u);
        return typeof(G.Stats).GetFields().ToDictionary(f => f.Name, f => perCpu.Aggregate(0UL, (sum, v) => sum + (ulong)f.GetValue(v)!));
    }

    private static ulong Counter(IReadOnlyDictionary<string, ulong> counters, string name) => counters.TryGetValue(name, out var v) ? v : 0;
}
