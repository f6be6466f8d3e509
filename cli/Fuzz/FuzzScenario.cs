using FastRelay.Cli.Fuzz.Model;

namespace FastRelay.Cli.Fuzz;

/// <summary>The devices a fuzz run can name: a real one (a veth whose peer is down: clones sent there vanish), loopback,
/// and an index no device has.</summary>
public sealed record FuzzDevices(uint Veth, int VethMtu, uint Missing)
{
    public const uint Loopback = 1;
}

/// <summary>
/// One round's map setup, drawn from the seed: relay port, config flags (every combination over the rounds), clone tag,
/// channels with any / one / no upstream, subscribers of both families (some inactive, of another channel, on another or
/// a missing device, without an egress program), packet numbers near their wrap, budgets, credit and stream mappings
/// near their edges. Every branch of the three programs is reachable from some round.
/// </summary>
public static class FuzzScenario
{
    public static readonly byte[] UpstreamV4 = [10, 200, 0, 1];
    public static readonly byte[] UpstreamV6 = [0xfd, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    public static readonly byte[] RelayV4 = [10, 200, 0, 2];
    public static readonly byte[] RelayV6 = [0xfd, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    public const ushort UpstreamPort = 5000;

    public static byte[] Padded(byte[] address)
    {
        var a = new byte[16];
        address.CopyTo(a, 0);
        return a;
    }

    public static RelayState Create(Random rng, DescriptorRules rules, FuzzDevices devices)
    {
        var s = new RelayState
        {
            ConfigPort = rng.Next(10) < 7 ? (ushort)0 : (ushort)rng.Next(1024, 65536),
            Flags = (uint)rng.Next(8),
            CloneMark = rng.Next(2) == 0 ? 0 : (uint)rng.Next(1, 0x10000) << 16 | (rng.Next(4) == 0 ? (uint)rng.Next(0x10000) : 0),
            DeviceMtu = { [FuzzDevices.Loopback] = 65536, [devices.Veth] = devices.VethMtu },
        };
        var relayPort = s.ConfigPort != 0 ? s.ConfigPort : (ushort)rules.UdpPort;

        // Channel ids: what the key can hold; without a channel field (and no lookup) every packet is channel 0.
        var channelCount = rng.Next(1, Math.Min(rules.MaxChannels, 3) + 1);
        var idMax = rules.ChannelIdWidth >= 8 ? ulong.MaxValue : (1UL << (8 * rules.ChannelIdWidth)) - 1;
        var channelIds = new List<ulong>();
        if (rules.Channel is null && !rules.LooksUpChannel)
            channelIds.Add(0);
        else
            while (channelIds.Count < channelCount)
            {
                var id = rng.Next(3) == 0 ? RandomU64(rng) & idMax : (ulong)rng.Next(0, 20);
                if (!channelIds.Contains(id))
                    channelIds.Add(id);
            }

        // Subscribers: a few slots, the first and last slot among them often.
        var slotCount = rng.Next(1, Math.Min(rules.MaxSubscribers, 6) + 1);
        var slots = new List<uint>();
        while (slots.Count < slotCount)
        {
            var slot = rng.Next(4) switch { 0 => 0u, 1 => (uint)rules.MaxSubscribers - 1, _ => (uint)rng.Next(rules.MaxSubscribers) };
            if (!slots.Contains(slot))
                slots.Add(slot);
        }
        var levels = rules.PriorityLevels;
        foreach (var slot in slots)
        {
            var remoteFamily = (byte)(rng.Next(2) == 0 ? 4 : 6);
            var localFamily = rng.Next(12) == 0 ? (byte)(10 - remoteFamily) : remoteFamily;
            var sub = new SubscriberSlot
            {
                Active = rng.Next(8) != 0,
                IfIndex = rng.Next(10) switch { < 7 => devices.Veth, 7 => FuzzDevices.Loopback, _ => devices.Missing },
                Channel = rng.Next(10) == 0 ? RandomU64(rng) & idMax : channelIds[rng.Next(channelIds.Count)],
                MacSource = RandomBytes(rng, 6),
                MacDestination = RandomBytes(rng, 6),
                Local = Endpoint(localFamily, relayPort, localFamily == 4 ? [10, 201, 0, 1] : [0xfd, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
                Remote = Endpoint(remoteFamily, (ushort)(6000 + slot),
                    remoteFamily == 4 ? [10, 201, 1, (byte)(10 + slot)] : [0xfd, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, (byte)(slot >> 8), (byte)slot]),
                ConnectionId = RandomBytes(rng, rules.ConnectionId?.Length ?? 0),
            };
            s.Subscribers[slot] = sub;
            if (rng.Next(20) != 0)
                s.SubByEndpoint[sub.Remote.Key] = (sub.Remote, slot);
            s.NextPacketNumber[slot] = PacketNumberStart(rng, rules);
            s.LastNumbered[slot] = rng.Next(3) == 0 ? 1UL << 63 | (RandomU64(rng) & 0x7FFF_FFFF_FFFF_FFFF) : 0;
            s.Budgets[slot] = new BudgetEntry
            {
                Enabled = rng.Next(10) < 6,
                Bytes = rng.Next(12) switch
                {
                    0 => long.MaxValue - rng.Next(0, 3000),
                    1 => long.MinValue + rng.Next(0, 3000),
                    < 5 => rng.Next(-3000, 1),
                    _ => rng.Next(0, 40000),
                },
                ReservePerLevel = rng.Next(12) == 0 ? uint.MaxValue - (uint)rng.Next(0, 10) : (uint)rng.Next(0, 600),
                DropFromLevel = rng.Next(12) == 0 ? uint.MaxValue : (uint)rng.Next(0, levels + 2),
            };
            var limit = rng.Next(5) == 0 ? ulong.MaxValue - (ulong)rng.Next(0, 3000) : (ulong)rng.Next(0, 60000);
            s.CreditLimit[slot] = limit;
            s.CreditUsed[slot] = rng.Next(4) switch
            {
                0 => (ulong)rng.NextInt64(0, (long)Math.Min(limit, 100_000UL) + 1),
                1 => limit - Math.Min(limit, (ulong)rng.Next(0, 3000)), // at the limit, or past the wrap when it is near 2^64
                _ => 0,
            };
        }
        s.EgressDevices.Add(devices.Missing);
        if (rng.Next(10) != 0)
            s.EgressDevices.Add(devices.Veth);
        if (rng.Next(10) == 0) // a stray endpoint naming a slot beyond the array
        {
            var stray = Endpoint(4, 6999, [10, 201, 9, 9]);
            s.SubByEndpoint[stray.Key] = (stray, (uint)rules.MaxSubscribers + (uint)rng.Next(0, 5));
        }

        for (var i = 0; i < channelIds.Count; i++)
        {
            // Mostly the channel's own subscribers, as a host writes them; now and then a slot of another channel (what a
            // reader can find in an entry reused under it, fr_channel.h).
            var members = slots.Where(slot => s.Subscribers[slot].Channel == channelIds[i] ? rng.Next(8) != 0 : rng.Next(8) == 0).ToList();
            if (rng.Next(15) == 0)
                members.Add((uint)rules.MaxSubscribers + (uint)rng.Next(0, 10)); // beyond the array: skipped
            members = members.OrderBy(_ => rng.Next()).Take(rules.MaxSubscribers).ToList();
            s.Channels[channelIds[i]] = new ChannelEntry
            {
                Upstream = rng.Next(10) switch
                {
                    < 3 => FuzzEndpoint.Unset,
                    < 6 => Endpoint(4, UpstreamPort, UpstreamV4),
                    < 8 => Endpoint(6, UpstreamPort, UpstreamV6),
                    8 => Endpoint((byte)(rng.Next(2) == 0 ? 4 : 6), 0, []), // no upstream yet
                    9 when rng.Next(3) == 0 => Endpoint((byte)rng.Next(1, 256), UpstreamPort, UpstreamV4), // a family that is neither
                    _ => new FuzzEndpoint(4, UpstreamPort, [.. UpstreamV4, .. RandomBytes(rng, 12)]), // junk after the IPv4 address
                },
                Slots = members.ToArray(),
                Rotation = (uint)rng.Next(),
                CacheBase = rng.Next(6) == 0 ? (uint)rng.Next() : (uint)(i * Math.Max(rules.KernelCachePackets, 1)),
            };
        }

        if (rules.LooksUpChannel)
        {
            foreach (var id in channelIds)
                for (var k = rng.Next(1, 4); k > 0; k--)
                {
                    var parts = rules.ChannelKeys.Select(f => f.Integer is { } field
                        ? new KeyPart(null, rng.Next(3) == 0 ? RandomU64(rng) & field.ValueMask : (ulong)rng.Next(0, 12) * 4)
                        : new KeyPart(RandomBytes(rng, f.Bytes!.Value.Length), 0)).ToArray();
                    s.Lookup[RelayState.LookupKey(parts)] = (parts, id);
                }
        }

        if (rules.StreamId is { } sid && rules.TranslateStreams)
        {
            var upstreamStreams = s.Lookup.Values.SelectMany(v => v.Parts.Where(p => p.Bytes is null).Select(p => p.Integer))
                .Concat(Enumerable.Range(0, 4).Select(_ => (ulong)rng.Next(0, 12) * 4)).Distinct().ToList();
            foreach (var slot in slots)
                foreach (var upstream in upstreamStreams.Where(_ => rng.Next(3) != 0))
                {
                    var forwardFrom = rng.Next(3) == 0 ? 0UL : (ulong)rng.Next(0, 6000);
                    s.Streams[(slot, upstream)] = new StreamMapping
                    {
                        StreamId = rng.Next(4) == 0 ? RandomU64(rng) & sid.ValueMask : (ulong)rng.Next(0, 64),
                        OffsetDelta = rng.Next(8) switch { 0 => long.MinValue / 2 + rng.Next(), 1 => -(long)rng.Next(0, 3000), _ => rng.Next(0, 3000) },
                        ForwardFrom = forwardFrom,
                        Limit = rng.Next(6) == 0 ? ulong.MaxValue : (ulong)rng.Next(0, 20000),
                        Urgency = (byte)(rng.Next(2) == 0 ? 0 : rng.Next(0, 256)),
                    };
                }
        }
        return s;
    }

    private static ulong PacketNumberStart(Random rng, DescriptorRules rules)
    {
        var width = rules.PacketNumber?.Width ?? 4;
        var wrap = width >= 8 ? ulong.MaxValue : 1UL << (8 * width);
        return rng.Next(5) switch
        {
            0 => 0,
            1 => unchecked(wrap - (ulong)rng.Next(1, 40)), // the wire field wraps within the round
            2 => RandomU64(rng),
            _ => (ulong)rng.Next(0, 100000),
        };
    }

    public static FuzzEndpoint Endpoint(byte family, ushort port, byte[] address) => new(family, port, Padded(address));

    public static byte[] RandomBytes(Random rng, int length)
    {
        var b = new byte[length];
        rng.NextBytes(b);
        return b;
    }

    public static ulong RandomU64(Random rng) => (ulong)rng.NextInt64() ^ (ulong)rng.Next(2) << 63;
}
