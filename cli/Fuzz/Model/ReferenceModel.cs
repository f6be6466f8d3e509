namespace FastRelay.Cli.Fuzz.Model;

/// <summary>The __sk_buff fields a fuzzed run sets: the clone tag, the device the packet is on, a GSO size.</summary>
public sealed record FuzzContext(uint Mark, uint IfIndex, uint GsoSize);

/// <summary>A registration event as the model predicts it (members a protocol's fr_event lacks stay 0).</summary>
public sealed record ModelEvent(ulong PacketNumber, ulong UpstreamPacketNumber, ulong StreamId, ulong UpstreamStreamId,
    ulong StreamOffset, uint Slot, uint Length, uint DataLength, byte Origin, byte Urgency, byte Fin, byte Reason)
{
    public const byte Forwarded = 1, Userspace = 2, NotForwarded = 3;
}

/// <summary>What one run must do: verdict, the frame and mark it leaves with, the events it submits; and which branch
/// of the program the model took (for the report's verdict mix) and which map entries it touched (for the comparison).</summary>
public sealed class Expectation(byte[] input, uint mark)
{
    public int Verdict { get; set; } = TcVerdict.Unspec;
    public byte[] Output { get; set; } = input;
    public uint Mark { get; set; } = mark;
    public List<ModelEvent> Events { get; } = [];
    public string Branch { get; set; } = "";
    public uint? Slot { get; set; }
    /// <summary>Slots whose state a clone's egress run changed inside upstream ingress.</summary>
    public List<uint> CloneSlots { get; } = [];
    /// <summary>The egress program's branch for each clone it rewrote inside this run.</summary>
    public List<string> CloneBranches { get; } = [];
    public ulong? Channel { get; set; }
    public uint? CacheIndex { get; set; }

    public Expectation Done(int verdict, string branch)
    {
        Verdict = verdict;
        Branch = branch;
        return this;
    }
}

public static class TcVerdict
{
    public const int Unspec = -1, Ok = 0, Shot = 2;

    public static string Name(int verdict) => verdict switch { Unspec => "UNSPEC", Ok => "OK", Shot => "SHOT", _ => verdict.ToString() };
}

/// <summary>
/// The reference model of the three TC programs for one descriptor, written from their specification
/// (bpf-templates/README.md, docs/generated-header.md) and the descriptor's attributes: what verdict, which output bytes,
/// which counters, numbers, budget, credit, cache entries and events each packet must produce. It never calls the
/// generator or reads the generated header. Virtual members are the policy constants a test can change to plant a known
/// divergence.
/// </summary>
public class ReferenceModel(DescriptorRules rules, RelayState state)
{
    /// <summary>"FR" in the high half: the clone tag of a relay that wrote no fr_config.clone_mark.</summary>
    public const uint DefaultCloneTag = 0x4652_0000;
    public const uint TagMask = 0xFFFF_0000, SlotMask = 0x0000_FFFF;
    public const uint ConfigRegisterRuns = 1, ConfigConsumeCached = 2, ConfigTranslateFamily = 4;
    public const int CachePacketBytes = 1472;

    public DescriptorRules Rules => rules;
    public RelayState State => state;

    /// <summary>TTL / hop limit of every copy (a new datagram from the relay).</summary>
    protected virtual byte CopyTtl => 64;

    public ushort RelayPort => state.ConfigPort != 0 ? state.ConfigPort : (ushort)rules.UdpPort;

    public uint CloneTag => (state.CloneMark & TagMask) is var t and not 0 ? t : DefaultCloneTag;

    /// <summary>The slot a mark names when it carries this instance's tag.</summary>
    public bool SlotOfMark(uint mark, out uint slot)
    {
        slot = 0;
        if ((mark & TagMask) != CloneTag)
            return false;
        var tag = mark & SlotMask;
        if (tag == 0 || tag > rules.MaxSubscribers)
            return false;
        slot = tag - 1;
        return true;
    }

    // ---------------------------------------------------------------- upstream ingress

    public Expectation UpstreamIngress(byte[] frame, FuzzContext context)
    {
        var e = new Expectation(frame, context.Mark);
        var p = ParsedFrame.Parse(frame);
        if (p.Outcome == ParseOutcome.Truncated)
        {
            state.Count("upstream_truncated");
            return e.Done(TcVerdict.Unspec, "truncated");
        }
        if (p.Outcome != ParseOutcome.Ok || p.DestinationPort != RelayPort)
            return e.Done(TcVerdict.Unspec, "not relay udp");
        state.Count("upstream_seen");
        if (p.PayloadLength < rules.HeaderLength)
        {
            state.Count("upstream_truncated");
            return e.Done(TcVerdict.Unspec, "short header");
        }
        var h = frame.AsSpan(p.PayloadOffset, rules.HeaderLength);
        if (context.GsoSize != 0 || !rules.MatchesFastPath(h))
        {
            state.Count("upstream_not_matched");
            return e.Done(TcVerdict.Unspec, "not matched");
        }
        if (!FindChannel(h, out var id) || !state.Channels.TryGetValue(id, out var ch))
        {
            state.Count("upstream_no_channel");
            return e.Done(TcVerdict.Unspec, "no channel");
        }
        e.Channel = id;
        if (!UpstreamAllowed(ch.Upstream, p))
        {
            state.Count("upstream_foreign_source");
            return e.Done(TcVerdict.Unspec, "foreign source");
        }
        state.Count("upstream_matched");
        var count = (uint)Math.Min(ch.Slots.Length, rules.MaxSubscribers);
        if (count == 0)
            return e.Done(TcVerdict.Unspec, "no subscribers");

        var start = ch.Rotation % count;
        ch.Rotation = unchecked(ch.Rotation + 1);
        bool fannedOut = false, userspaceNeedsOriginal = false;
        for (var i = 0u; i < count; i++)
        {
            var slot = ch.Slots[(start + i) % count];
            if (slot >= rules.MaxSubscribers)
                continue;
            var sub = Subscriber(slot);
            if (!sub.Active)
            {
                state.CountSlot(slot, "dropped_inactive");
                continue;
            }
            if (sub.Channel != id)
            {
                state.Count("egress_wrong_channel");
                continue;
            }
            if (!state.EgressDevices.Contains(sub.IfIndex))
            {
                state.Count("clone_no_egress_program");
                userspaceNeedsOriginal = true;
                continue;
            }
            if (sub.Remote.Family != p.Family)
            {
                if ((state.Flags & ConfigTranslateFamily) == 0 || sub.Local.Family != sub.Remote.Family)
                {
                    state.Count("egress_family_mismatch");
                    userspaceNeedsOriginal = true;
                    continue;
                }
                if (!Fits(sub.IfIndex, IpHeaderLength(sub.Remote.Family) + 8 + p.PayloadLength))
                {
                    state.Count("egress_family_too_big");
                    userspaceNeedsOriginal = true;
                    continue;
                }
            }
            if (state.DeviceMtu.ContainsKey(sub.IfIndex))
            {
                // The egress program runs inside the redirect (on the same CPU, before it returns): its counters, numbers
                // and events come first.
                if (state.EgressAttached.Contains(sub.IfIndex))
                {
                    var copy = Forwarded(frame, new FuzzContext(CloneTag | (slot + 1), sub.IfIndex, context.GsoSize), slot);
                    e.Events.AddRange(copy.Events);
                    e.CloneSlots.Add(slot);
                    e.CloneBranches.Add(copy.Branch);
                }
                state.Count("clones");
                fannedOut = true;
            }
            else
                state.Count("clone_errors"); // no such device: the redirect fails
        }
        if (!fannedOut)
            return e.Done(TcVerdict.Unspec, "no clone");
        if (rules.KernelCache && !userspaceNeedsOriginal && (state.Flags & ConfigConsumeCached) != 0)
        {
            var pn = rules.PacketNumber!.Read(h);
            var index = unchecked(ch.CacheBase + (uint)(pn & (ulong)(rules.KernelCachePackets - 1)));
            var entries = (ulong)rules.MaxChannels * (ulong)rules.KernelCachePackets;
            if (p.PayloadLength is > 0 and <= CachePacketBytes && index < entries)
            {
                state.Cache[index] = new CacheEntry(pn, frame.AsSpan(p.PayloadOffset, p.PayloadLength).ToArray());
                ch.UpstreamPackets++;
                e.CacheIndex = index;
                return e.Done(TcVerdict.Shot, "fanned out, cached");
            }
        }
        return e.Done(TcVerdict.Ok, "fanned out");
    }

    // ---------------------------------------------------------------- subscriber egress

    public Expectation SubscriberEgress(byte[] frame, FuzzContext context) =>
        SlotOfMark(context.Mark, out var slot) ? Forwarded(frame, context, slot) : Userspace(frame, context);

    private Expectation Forwarded(byte[] frame, FuzzContext context, uint slot)
    {
        var e = new Expectation(frame, context.Mark) { Slot = slot };
        var p = ParsedFrame.Parse(frame);
        if (p.Outcome != ParseOutcome.Ok || p.DestinationPort != RelayPort || p.PayloadLength < rules.HeaderLength ||
            !rules.MatchesFastPath(frame.AsSpan(p.PayloadOffset, rules.HeaderLength)))
            return e.Done(TcVerdict.Unspec, "tagged, not a clone");
        var h = frame.AsSpan(p.PayloadOffset, rules.HeaderLength).ToArray();
        e.Mark = 0;
        var sub = Subscriber(slot);
        if (!sub.Active)
        {
            state.Count("egress_dropped_inactive");
            state.CountSlot(slot, "dropped_inactive");
            return e.Done(TcVerdict.Shot, "clone, inactive");
        }
        if (context.IfIndex != sub.IfIndex)
        {
            state.Count("egress_wrong_device");
            return e.Done(TcVerdict.Shot, "clone, wrong device");
        }
        var translate = p.Family != sub.Remote.Family;
        if (sub.Local.Family != sub.Remote.Family || (translate && (state.Flags & ConfigTranslateFamily) == 0))
        {
            state.Count("egress_family_mismatch");
            return e.Done(TcVerdict.Shot, "clone, family mismatch");
        }
        if (!FindChannel(h, out var channel) || sub.Channel != channel)
        {
            state.Count("egress_wrong_channel");
            return e.Done(TcVerdict.Shot, "clone, wrong channel");
        }

        var urgency = rules.Urgency(h);
        var budget = rules.PriorityDrop ? Budget(slot) : null;
        var hasOffset = rules.StreamOffset is not null;
        if (!hasOffset && !Admit(budget, urgency, (uint)p.PayloadLength))
        {
            state.Count("egress_dropped_budget");
            state.CountSlot(slot, "dropped_budget");
            return e.Done(TcVerdict.Shot, "clone, budget");
        }

        ulong upstreamSid = 0, sid = 0, upstreamPn = 0, pn = 0;
        ulong downstreamOffset = 0;
        uint dataLength = 0;
        byte fin = 0;
        if (rules.StreamId is { } sidField)
        {
            upstreamSid = sid = sidField.Read(h);
            if (rules.TranslateStreams)
            {
                if (!state.Streams.TryGetValue((slot, upstreamSid), out var mapping))
                {
                    state.Count("egress_dropped_no_stream");
                    state.CountSlot(slot, "dropped_no_stream");
                    return e.Done(TcVerdict.Shot, "clone, no stream");
                }
                sid = mapping.StreamId;
                if (hasOffset)
                {
                    var upstreamOffset = rules.StreamOffset!.Read(h);
                    dataLength = (uint)(p.PayloadLength - rules.PayloadOffset);
                    fin = (byte)(rules.ReadFin(h) ? 1 : 0);
                    downstreamOffset = unchecked(upstreamOffset + (ulong)mapping.OffsetDelta);
                    if (rules.UrgencyFromStream)
                        urgency = mapping.Urgency;
                    urgency = (byte)urgency;
                    byte reason = 0;
                    if (upstreamOffset < mapping.ForwardFrom)
                    {
                        if (unchecked(upstreamOffset + dataLength) <= mapping.ForwardFrom)
                        {
                            state.Count("egress_before_forward_from");
                            return e.Done(TcVerdict.Shot, "clone, before forward-from");
                        }
                        reason = 1;
                    }
                    else
                    {
                        var end = unchecked(downstreamOffset + dataLength);
                        if ((long)downstreamOffset < 0 || end < downstreamOffset || end > rules.StreamOffsetMax || end > mapping.Limit)
                            reason = 2;
                    }
                    if (reason == 0 && !Admit(budget, urgency, (uint)p.PayloadLength))
                    {
                        state.Count("egress_dropped_budget");
                        state.CountSlot(slot, "dropped_budget");
                        reason = 4;
                    }
                    if (reason == 0 && !TakeCredit(slot, dataLength))
                        reason = 3;
                    upstreamPn = rules.PacketNumber?.Read(h) ?? 0;
                    if (reason != 0)
                        return NotForwarded(e, slot, sid, upstreamSid, upstreamPn, downstreamOffset, p, dataLength, (byte)urgency, fin, reason);
                }
            }
        }

        if (translate && !Fits(context.IfIndex, IpHeaderLength(sub.Remote.Family) + 8 + p.PayloadLength))
        {
            state.Count("egress_family_too_big");
            if (hasOffset)
            {
                state.CreditUsed[slot] = unchecked(state.CreditUsed.GetValueOrDefault(slot) - dataLength);
                return NotForwarded(e, slot, sid, upstreamSid, upstreamPn, downstreamOffset, p, dataLength, (byte)urgency, fin, 5);
            }
            return e.Done(TcVerdict.Shot, "clone, too big to translate");
        }

        // The copy leaves: debit, number, rewrite.
        if (budget is { Enabled: true })
            budget.Bytes -= p.PayloadLength;
        var newHeader = (byte[])h.Clone();
        if (rules.ConnectionId is { } cid)
            sub.ConnectionId.AsSpan(0, cid.Length).CopyTo(newHeader.AsSpan(cid.Offset));
        if (rules.PacketNumber is { } pnField)
        {
            upstreamPn = pn = pnField.Read(h);
            if (rules.TranslatePacketNumbers)
            {
                pn = TakeNumber(slot);
                pnField.Write(newHeader, pn);
            }
        }
        if (rules.StreamId is { } sidWrite && rules.TranslateStreams)
            sidWrite.Write(newHeader, sid);
        if (rules.StreamOffset is { } offsetField)
            offsetField.Write(newHeader, downstreamOffset);
        e.Output = FrameRewrite.Apply(frame, p, sub, h, newHeader, rewritePorts: true, CopyTtl);
        state.Count("egress_rewritten");
        if (translate)
            state.Count("egress_family_translated");
        state.CountSlot(slot, "forwarded_packets");
        state.CountSlot(slot, "forwarded_bytes", (ulong)p.PayloadLength);

        if (rules.PacketNumber is not null && !hasOffset && !RegistrationNeeded(slot, pn, upstreamPn))
            return e.Done(TcVerdict.Ok, translate ? "forwarded, translated (run)" : "forwarded (run)");
        e.Events.Add(new ModelEvent(pn, upstreamPn, sid, upstreamSid, downstreamOffset, slot, (uint)p.PayloadLength, dataLength,
            ModelEvent.Forwarded, (byte)urgency, fin, 0));
        return e.Done(TcVerdict.Ok, translate ? "forwarded, translated" : "forwarded");
    }

    private Expectation NotForwarded(Expectation e, uint slot, ulong sid, ulong upstreamSid, ulong upstreamPn, ulong offset,
        ParsedFrame p, uint dataLength, byte urgency, byte fin, byte reason)
    {
        state.Count("egress_not_forwarded");
        e.Events.Add(new ModelEvent(0, upstreamPn, sid, upstreamSid, offset, slot, (uint)p.PayloadLength, dataLength,
            ModelEvent.NotForwarded, urgency, fin, reason));
        return e.Done(TcVerdict.Shot, $"clone, not forwarded ({reason})");
    }

    private Expectation Userspace(byte[] frame, FuzzContext context)
    {
        var e = new Expectation(frame, context.Mark);
        var p = ParsedFrame.Parse(frame);
        if (p.Outcome != ParseOutcome.Ok || p.SourcePort != RelayPort)
            return e.Done(TcVerdict.Unspec, "not from the relay port");
        var destination = new FuzzEndpoint(p.Family, p.DestinationPort, Padded(p.DestinationAddress));
        if (!state.SubByEndpoint.TryGetValue(destination.Key, out var entry))
            return e.Done(TcVerdict.Unspec, "unknown destination");
        var slot = entry.Slot;
        if (slot >= rules.MaxSubscribers || !Subscriber(slot).Active)
            return e.Done(TcVerdict.Unspec, "destination inactive");
        var sub = Subscriber(slot);
        e.Slot = slot;
        if (context.IfIndex != sub.IfIndex)
            return e.Done(TcVerdict.Unspec, "stack packet, other device");
        var need = rules.ConnectionHeaderLength;
        if (p.PayloadLength < need || !rules.MatchesConnection(frame.AsSpan(p.PayloadOffset, need)))
            return e.Done(TcVerdict.Unspec, "stack packet, not the protocol's");
        var h = new byte[rules.HeaderLength];
        frame.AsSpan(p.PayloadOffset, need).CopyTo(h);

        ulong pn = 0, upstreamPn = 0;
        if (rules.PacketNumber is { } pnField)
        {
            upstreamPn = pn = pnField.Read(h);
            if (rules.TranslatePacketNumbers)
            {
                if (context.GsoSize != 0)
                {
                    state.Count("egress_userspace_dropped");
                    return e.Done(TcVerdict.Shot, "stack packet, GSO dropped");
                }
                pn = TakeNumber(slot);
                var newHeader = (byte[])h.Clone();
                pnField.Write(newHeader, pn);
                e.Output = FrameRewrite.Apply(frame, p, null, h.AsSpan(0, need), newHeader.AsSpan(0, need), rewritePorts: false, CopyTtl);
                state.Count("egress_userspace_numbered");
            }
        }
        state.CountSlot(slot, "userspace_packets");
        if (rules.PacketNumber is not null && rules.TranslatePacketNumbers)
            state.LastNumbered[slot] = 0;
        e.Events.Add(new ModelEvent(pn, upstreamPn, 0, 0, 0, slot, (uint)p.PayloadLength, 0, ModelEvent.Userspace, 0, 0, 0));
        return e.Done(TcVerdict.Ok, rules.TranslatePacketNumbers ? "stack packet, numbered" : "stack packet, registered");
    }

    // ---------------------------------------------------------------- subscriber ingress

    public Expectation SubscriberIngress(byte[] frame, FuzzContext context)
    {
        var e = new Expectation(frame, context.Mark);
        var p = ParsedFrame.Parse(frame);
        if (p.Outcome != ParseOutcome.Ok || p.DestinationPort != RelayPort)
            return e.Done(TcVerdict.Unspec, "not relay udp");
        state.Count("subscriber_ingress_seen");
        var source = new FuzzEndpoint(p.Family, p.SourcePort, Padded(p.SourceAddress));
        if (!state.SubByEndpoint.TryGetValue(source.Key, out var entry))
        {
            state.Count("subscriber_ingress_unknown");
            return e.Done(TcVerdict.Unspec, "unknown subscriber");
        }
        if (entry.Slot < rules.MaxSubscribers)
        {
            e.Slot = entry.Slot;
            state.CountSlot(entry.Slot, "received_packets");
            state.CountSlot(entry.Slot, "received_bytes", (ulong)p.PayloadLength);
        }
        return e.Done(TcVerdict.Unspec, "known subscriber");
    }

    // ---------------------------------------------------------------- pieces

    private SubscriberSlot Subscriber(uint slot) => state.Subscribers.TryGetValue(slot, out var s) ? s : new SubscriberSlot();

    private BudgetEntry Budget(uint slot) => state.Budgets.TryGetValue(slot, out var b) ? b : state.Budgets[slot] = new BudgetEntry();

    private bool FindChannel(ReadOnlySpan<byte> h, out ulong channel)
    {
        channel = 0;
        if (rules.LooksUpChannel)
        {
            var parts = new KeyPart[rules.ChannelKeys.Count];
            for (var i = 0; i < parts.Length; i++)
            {
                var k = rules.ChannelKeys[i];
                parts[i] = k.Integer is { } f ? new KeyPart(null, f.Read(h)) : new KeyPart(h.Slice(k.Bytes!.Value.Offset, k.Bytes.Value.Length).ToArray(), 0);
            }
            if (!state.Lookup.TryGetValue(RelayState.LookupKey(parts), out var found))
                return false;
            channel = found.Channel;
            return true;
        }
        channel = rules.Channel?.Read(h) ?? 0;
        return true;
    }

    private static bool UpstreamAllowed(FuzzEndpoint upstream, ParsedFrame p)
    {
        if (upstream.Family == 0)
            return true;
        if (upstream.Port == 0)
            return false;
        return upstream.Family == p.Family && upstream.Port == p.SourcePort &&
               upstream.Address.AsSpan(0, upstream.AddressLength).SequenceEqual(p.SourceAddress);
    }

    private bool Admit(BudgetEntry? budget, uint urgency, uint length)
    {
        if (budget is null || !budget.Enabled || urgency == 0)
            return true;
        if (urgency >= budget.DropFromLevel)
            return false;
        return budget.Bytes >= (long)length + (long)urgency * budget.ReservePerLevel;
    }

    private bool TakeCredit(uint slot, uint length)
    {
        var used = state.CreditUsed.GetValueOrDefault(slot);
        var next = unchecked(used + length);
        if (next < used || next > state.CreditLimit.GetValueOrDefault(slot))
            return false;
        state.CreditUsed[slot] = next;
        return true;
    }

    private ulong TakeNumber(uint slot)
    {
        var pn = state.NextPacketNumber.GetValueOrDefault(slot);
        state.NextPacketNumber[slot] = unchecked(pn + 1);
        return pn;
    }

    /// <summary>Run registration (FR_CONFIG_REGISTER_RUNS): an event only where the copy does not continue the slot's run.</summary>
    private bool RegistrationNeeded(uint slot, ulong pn, ulong upstreamPn)
    {
        if ((state.Flags & ConfigRegisterRuns) == 0)
            return true;
        static ulong Pack(ulong n, ulong u) => 1UL << 63 | (n & 0x7FFF_FFFF) << 32 | (u & 0xFFFF_FFFF);
        var last = state.LastNumbered.GetValueOrDefault(slot);
        state.LastNumbered[slot] = Pack(pn, upstreamPn);
        return last != Pack(unchecked(pn - 1), unchecked(upstreamPn - 1));
    }

    private bool Fits(uint ifIndex, int l3Length) => state.DeviceMtu.TryGetValue(ifIndex, out var mtu) && l3Length <= mtu;

    internal static int IpHeaderLength(byte family) => family == 6 ? 40 : 20;

    private static byte[] Padded(byte[] address)
    {
        var a = new byte[16];
        address.CopyTo(a, 0);
        return a;
    }
}
