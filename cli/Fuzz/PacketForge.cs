using System.Buffers.Binary;
using FastRelay.Cli.Fuzz.Model;

namespace FastRelay.Cli.Fuzz;

/// <summary>One fuzzed input: the frame and the __sk_buff fields of the run.</summary>
public sealed record FuzzInput(byte[] Frame, FuzzContext Context);

/// <summary>
/// Seeded packet generator and mutator. Frames are built towards the round's setup (its channels, upstreams,
/// subscribers, stream mappings, packet numbers in sequence so that registration runs form), then a share of them is
/// broken: truncated anywhere, bytes flipped, IP / UDP lengths that lie, IPv4 options, IPv6 extension headers,
/// fragments, other protocols and ethertypes, wrong ports, zero or wrong checksums, GSO sizes, foreign or malformed
/// clone tags.
/// </summary>
public sealed class PacketForge(Random rng, DescriptorRules rules)
{
    private ulong _sequence = (ulong)rng.Next();
    private readonly Dictionary<uint, ulong> _slotSequence = [];

    private int Chance(int percent) => rng.Next(100) < percent ? 1 : 0;

    private bool Percent(int percent) => rng.Next(100) < percent;

    private T Pick<T>(IReadOnlyList<T> items) => items[rng.Next(items.Count)];

    private ushort RelayPort(RelayState s) => s.ConfigPort != 0 ? s.ConfigPort : (ushort)rules.UdpPort;

    // ------------------------------------------------------------------ per program

    public FuzzInput ForUpstreamIngress(RelayState s, FuzzDevices devices) => UpstreamDatagram(s, null, null);

    /// <param name="packetNumber">The upstream packet number to carry (a clone continuing a slot's run), or null.</param>
    /// <param name="forSlot">The slot a clone of it is for: its channel, stream and offsets are preferred.</param>
    private FuzzInput UpstreamDatagram(RelayState s, ulong? packetNumber, uint? forSlot)
    {
        var v6 = Percent(40);
        var upstream = s.Channels.Values.Select(c => c.Upstream).Where(u => u.Family != 0).ToList();
        byte[] source;
        ushort sourcePort;
        if (upstream.Count > 0 && Percent(60))
        {
            var u = Pick(upstream);
            v6 = u.Family == 6;
            source = u.WireAddress;
            sourcePort = Percent(90) ? u.Port : (ushort)rng.Next(65536);
        }
        else if (Percent(20))
        {
            source = new byte[v6 ? 16 : 4];
            sourcePort = 0;
        }
        else
        {
            source = v6 ? FuzzScenario.UpstreamV6 : FuzzScenario.UpstreamV4;
            sourcePort = Percent(50) ? FuzzScenario.UpstreamPort : (ushort)rng.Next(65536);
        }
        var frame = Frame(v6, source, v6 ? FuzzScenario.RelayV6 : FuzzScenario.RelayV4, sourcePort, DestinationPort(s), FastPathPayload(s, packetNumber: packetNumber, forSlot: forSlot));
        return new FuzzInput(packetNumber is null || Percent(30) ? Mutate(frame) : frame, new FuzzContext(Percent(20) ? (uint)rng.Next() : 0, FuzzDevices.Loopback, Percent(5) ? (uint)rng.Next(1, 1500) : 0));
    }

    public FuzzInput ForSubscriberEgress(RelayState s, FuzzDevices devices)
    {
        var slots = s.Subscribers.Keys.ToList();
        var slot = Percent(85) && slots.Count > 0 ? Pick(slots) : (uint)rng.Next(rules.MaxSubscribers);
        var sub = s.Subscribers.GetValueOrDefault(slot);
        // The device the packet is on: mostly the subscriber's own (when it exists), else the other real one.
        var ifIndex = sub is not null && sub.IfIndex != devices.Missing && Percent(85) ? sub.IfIndex : Percent(50) ? devices.Veth : FuzzDevices.Loopback;
        if (Percent(65))
        {
            // A clone of an upstream datagram, as upstream ingress tags it (or a mark that only resembles the tag).
            var tag = (s.CloneMark & 0xFFFF_0000) is var t and not 0 ? t : ReferenceModel.DefaultCloneTag;
            var mark = rng.Next(20) switch
            {
                0 => (uint)rng.Next(),
                1 => tag,                                                     // slot bits 0
                2 => tag | (uint)rng.Next(rules.MaxSubscribers + 1, 0x10000), // beyond the slots
                3 => ReferenceModel.DefaultCloneTag | (slot + 1),             // another instance's tag (or ours)
                _ => tag | (slot + 1),
            };
            var v6 = Percent(45);
            // Upstream numbers in sequence per slot, so that copies continue a registration run (and break it).
            ulong? upstreamPn = Percent(70) ? _slotSequence[slot] = _slotSequence.GetValueOrDefault(slot, (ulong)rng.Next()) + 1 : null;
            var input = UpstreamDatagram(s, upstreamPn, slot).Frame;
            if (Percent(20))
                input = Frame(v6, v6 ? FuzzScenario.UpstreamV6 : FuzzScenario.UpstreamV4, v6 ? FuzzScenario.RelayV6 : FuzzScenario.RelayV4,
                    FuzzScenario.UpstreamPort, DestinationPort(s), FastPathPayload(s, sizeNearMtu: true, packetNumber: upstreamPn, forSlot: slot));
            return new FuzzInput(input, new FuzzContext(mark, ifIndex, 0));
        }

        // A datagram of the relay's own stack: from the relay port to a subscriber.
        var remote = sub is not null && Percent(85) ? sub.Remote
            : FuzzScenario.Endpoint((byte)(Percent(50) ? 4 : 6), (ushort)(6000 + rng.Next(8)), [10, 201, 1, (byte)rng.Next(256)]);
        var local = sub?.Local is { Family: not 0 } l && l.Family == remote.Family ? l : FuzzScenario.Endpoint(remote.Family, 0, remote.Family == 4 ? FuzzScenario.RelayV4 : FuzzScenario.RelayV6);
        var sourcePort = Percent(85) ? RelayPort(s) : (ushort)rng.Next(65536);
        var payload = Percent(70) ? FastPathPayload(s) : ConnectionPayload(s);
        var frame = Frame(remote.Family == 6, local.WireAddress, remote.WireAddress, sourcePort, remote.Port, payload);
        var stackMark = Percent(85) ? 0u : (uint)rng.Next();
        return new FuzzInput(Mutate(frame), new FuzzContext(stackMark, ifIndex, Percent(8) ? (uint)rng.Next(1, 1500) : 0));
    }

    public FuzzInput ForSubscriberIngress(RelayState s, FuzzDevices devices)
    {
        var known = s.SubByEndpoint.Values.Select(v => v.Endpoint).ToList();
        var source = known.Count > 0 && Percent(75) ? Pick(known)
            : FuzzScenario.Endpoint((byte)(Percent(50) ? 4 : 6), (ushort)rng.Next(65536), RandomAddress());
        if (Percent(10))
            source = source with { Port = (ushort)rng.Next(65536) };
        var payload = Percent(50) ? FastPathPayload(s) : FuzzScenario.RandomBytes(rng, rng.Next(0, 200));
        var frame = Frame(source.Family == 6, source.WireAddress, source.Family == 6 ? FuzzScenario.RelayV6 : FuzzScenario.RelayV4,
            source.Port, DestinationPort(s), payload);
        return new FuzzInput(Mutate(frame), new FuzzContext(0, FuzzDevices.Loopback, 0));
    }

    // ------------------------------------------------------------------ payloads

    private ushort DestinationPort(RelayState s) => rng.Next(20) switch
    {
        0 => (ushort)rng.Next(65536),
        1 => (ushort)rules.UdpPort,
        2 => (ushort)(RelayPort(s) + 1),
        _ => RelayPort(s),
    };

    private byte[] RandomAddress() => FuzzScenario.RandomBytes(rng, 16);

    /// <summary>A protocol header built towards the round's setup, then a tail; sometimes shorter than the header.</summary>
    private byte[] FastPathPayload(RelayState s, bool sizeNearMtu = false, ulong? packetNumber = null, uint? forSlot = null)
    {
        var h = FuzzScenario.RandomBytes(rng, rules.HeaderLength);
        foreach (var match in rules.Matches)
        {
            if (Percent(92))
            {
                var random = match.Field.Read(h);
                match.Field.Write(h, (random & ~match.Mask) | match.Value);
            }
        }
        var sub = forSlot is { } fs ? s.Subscribers.GetValueOrDefault(fs) : null;
        if (rules.Channel is { } channel && s.Channels.Count > 0 && Percent(85))
            channel.Write(h, sub is not null && Percent(60) ? sub.Channel : Pick(s.Channels.Keys.ToList()));
        var entries = s.Lookup.Values.Where(v => sub is not null && v.Channel == sub.Channel && Percent(90)).ToList();
        if (entries.Count == 0)
            entries = s.Lookup.Values.ToList();
        if (rules.LooksUpChannel && entries.Count > 0 && Percent(85))
        {
            var parts = Pick(entries).Parts;
            for (var i = 0; i < parts.Length; i++)
            {
                var field = rules.ChannelKeys[i];
                if (parts[i].Bytes is { } bytes)
                    bytes.CopyTo(h.AsSpan(field.Bytes!.Value.Offset));
                else
                    field.Integer!.Write(h, parts[i].Integer);
            }
        }
        if (rules.PacketNumber is { } pn && (packetNumber is not null || Percent(60)))
            pn.Write(h, packetNumber ?? _sequence++);
        var mapped = s.Streams.Keys.Where(k => k.Slot == forSlot).ToList();
        if (rules.StreamId is { } sid && !rules.LooksUpChannel && s.Streams.Count > 0 && Percent(80))
            sid.Write(h, (mapped.Count > 0 && Percent(70) ? Pick(mapped) : Pick(s.Streams.Keys.ToList())).UpstreamStream);
        var tailLength = sizeNearMtu ? rng.Next(1100, 1480) : rng.Next(10) switch
        {
            0 => 0,
            < 7 => rng.Next(0, 64),
            8 => rng.Next(0, 1500),
            _ => rng.Next(0, 400),
        };
        if (rules.StreamOffset is { } offset)
        {
            // The mapping this copy will meet when it is for a slot (its forward-from and limit are the edges that matter).
            var mapping = forSlot is { } slot && rules.StreamId is { } streamField && s.Streams.TryGetValue((slot, streamField.Read(h)), out var own) && Percent(80)
                ? own
                : s.Streams.Count > 0 ? Pick(s.Streams.Values.ToList()) : null;
            var dataLength = (ulong)Math.Max(0, rules.HeaderLength + tailLength - rules.PayloadOffset);
            ulong value = rng.Next(6) switch
            {
                0 => (ulong)rng.Next(0, 30000),
                1 => FuzzScenario.RandomU64(rng) & offset.ValueMask,
                2 or 3 when mapping is not null => unchecked(mapping.ForwardFrom + (ulong)rng.Next(0, 1500)),
                _ when mapping is not null => unchecked(mapping.ForwardFrom + (ulong)rng.Next(-(int)Math.Min(dataLength + 5, 3000), 3000)),
                _ => (ulong)rng.Next(0, 8000),
            };
            offset.Write(h, value);
        }
        var payload = new byte[rules.HeaderLength + tailLength];
        h.CopyTo(payload, 0);
        rng.NextBytes(payload.AsSpan(rules.HeaderLength));
        if (Percent(6))
            return payload[..rng.Next(0, Math.Max(1, rules.HeaderLength))]; // shorter than the fast-path header
        return payload;
    }

    /// <summary>A stack packet that is the protocol's but not fast-path data (a QUIC ACK): the connection-scope matches, the
    /// packet number, and a length from the numbering prefix up.</summary>
    private byte[] ConnectionPayload(RelayState s)
    {
        var length = Math.Max(rules.ConnectionHeaderLength + rng.Next(-2, 40), 0);
        var h = FuzzScenario.RandomBytes(rng, Math.Max(length, rules.HeaderLength));
        foreach (var match in rules.Matches.Where(m => m.Scope == Descriptors.MatchScope.Connection))
            if (Percent(92))
                match.Field.Write(h, (match.Field.Read(h) & ~match.Mask) | match.Value);
        return h[..length];
    }

    // ------------------------------------------------------------------ frames

    private byte[] Frame(bool v6, byte[] source, byte[] destination, ushort sourcePort, ushort destinationPort, byte[] payload)
    {
        var options = !v6 && Percent(15) ? FuzzScenario.RandomBytes(rng, 4 * rng.Next(1, 11)) : [];
        var extension = v6 && Percent(5);
        var ipLength = v6 ? 40 + (extension ? 8 : 0) : 20 + options.Length;
        var padding = Percent(5) ? rng.Next(1, 30) : 0; // Ethernet padding after the IP packet
        var udpLength = 8 + payload.Length;
        var frame = new byte[14 + ipLength + udpLength + padding];
        rng.NextBytes(frame.AsSpan(0, 12));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), (ushort)(v6 ? 0x86DD : 0x0800));
        var ip = frame.AsSpan(14);
        var tos = (byte)rng.Next(256);
        if (v6)
        {
            BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000u | (uint)tos << 20 | (uint)rng.Next(0x100000));
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(udpLength + (extension ? 8 : 0)));
            ip[6] = extension ? (byte)Pick(new[] { 0, 43, 60 }) : (byte)17;
            ip[7] = (byte)rng.Next(256);
            source.CopyTo(ip[8..]);
            destination.CopyTo(ip[24..]);
            if (extension)
            {
                ip[40] = 17; // the UDP header behind one extension header, which the relay does not walk
                ip[41] = 0;
            }
        }
        else
        {
            ip[0] = (byte)(0x40 | ((20 + options.Length) / 4));
            ip[1] = tos;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(ipLength + udpLength));
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)rng.Next(65536));
            BinaryPrimitives.WriteUInt16BigEndian(ip[6..], Percent(70) ? (ushort)0x4000 : (ushort)0);
            ip[8] = (byte)rng.Next(256);
            ip[9] = 17;
            source.CopyTo(ip[12..]);
            destination.CopyTo(ip[16..]);
            options.CopyTo(ip[20..]);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Complete(InternetChecksum.Sum(ip[..(20 + options.Length)])));
        }
        var l4 = 14 + ipLength;
        var udp = frame.AsSpan(l4);
        BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLength);
        payload.CopyTo(udp[8..]);
        rng.NextBytes(frame.AsSpan(l4 + udpLength));
        var mode = rng.Next(100);
        ushort check;
        if (mode < 75)
        {
            var sum = InternetChecksum.Sum(source);
            sum = InternetChecksum.Sum(destination, sum);
            sum = InternetChecksum.Sum([0, 17, (byte)(udpLength >> 8), (byte)udpLength], sum);
            sum = InternetChecksum.Sum(udp[..udpLength], sum);
            check = InternetChecksum.Complete(sum);
            if (check == 0)
                check = 0xFFFF;
        }
        else
            check = mode < 90 ? (ushort)0 : (ushort)rng.Next(65536);
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], check);
        return frame;
    }

    /// <summary>Breaks about a third of the frames, one way or several.</summary>
    private byte[] Mutate(byte[] frame)
    {
        if (!Percent(35))
            return frame;
        var v6 = frame.Length >= 14 && frame[12] == 0x86 && frame[13] == 0xDD;
        for (var n = rng.Next(1, 3); n > 0; n--)
        {
            switch (rng.Next(13))
            {
                case 0: // cut anywhere
                    frame = frame[..rng.Next(0, frame.Length + 1)];
                    break;
                case 1: // cut inside the headers
                    frame = frame[..Math.Min(frame.Length, rng.Next(14, 14 + 48 + 8 + rules.HeaderLength + 2))];
                    break;
                case 2 or 3: // flip bytes
                    for (var k = rng.Next(1, 4); k > 0 && frame.Length > 0; k--)
                        frame[rng.Next(frame.Length)] ^= (byte)rng.Next(1, 256);
                    break;
                case 4 when frame.Length >= 20: // IP length lies
                    BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(v6 ? 18 : 16), (ushort)(BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(v6 ? 18 : 16)) + rng.Next(-30, 30)));
                    break;
                case 5: // UDP length lies
                {
                    var l4 = UdpOffset(frame);
                    if (l4 > 0 && frame.Length >= l4 + 8)
                        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l4 + 4), rng.Next(2) == 0 ? (ushort)rng.Next(0, 16) : (ushort)(frame.Length - l4 + rng.Next(-20, 20)));
                    break;
                }
                case 6 when !v6 && frame.Length >= 22: // a fragment
                    BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(20), (ushort)(rng.Next(2) == 0 ? 0x2000 : rng.Next(1, 0x2000)));
                    break;
                case 7 when frame.Length >= 24: // another protocol
                    frame[v6 ? 20 : 23] = (byte)Pick(new[] { 6, 1, 58, 0, 255, 136 });
                    break;
                case 8 when frame.Length >= 14: // another ethertype
                    BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), (ushort)Pick(new[] { 0x8100, 0x0806, 0x88A8, 0x0800, 0x86DD, rng.Next(65536) }));
                    break;
                case 9 when frame.Length >= 15: // version / IHL nonsense
                    frame[14] = (byte)rng.Next(256);
                    break;
                case 10 when v6 && frame.Length >= 20: // jumbogram-style zero payload length
                    frame[18] = frame[19] = 0;
                    break;
                case 11: // appended junk (padding beyond the IP length)
                    frame = [.. frame, .. FuzzScenario.RandomBytes(rng, rng.Next(1, 40))];
                    break;
                default: // a wrong port
                {
                    var l4 = UdpOffset(frame);
                    if (l4 > 0 && frame.Length >= l4 + 4)
                        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l4 + rng.Next(2) * 2), (ushort)rng.Next(65536));
                    break;
                }
            }
        }
        return frame;
    }

    private static int UdpOffset(byte[] frame)
    {
        if (frame.Length < 15)
            return -1;
        if (frame[12] == 0x86 && frame[13] == 0xDD)
            return 54;
        return 14 + (frame[14] & 0x0F) * 4;
    }
}
