using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Packets.Fixtures;
using FastRelay.Tests.Packets.Protocols;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Packets;

/// <summary>Priority drop in fr_subscriber_egress against the budget userspace writes to fr_budgets.</summary>
public abstract class PriorityDropTests(GeneratedObjects objects, FastPathProtocol protocol)
{
    private const uint Slot = 2;
    private const ulong Start = 1000;

    private RelaySession Session() => new(objects, protocol);

    /// <summary>The contract's rule (docs/generated-header.md), restated: urgency 0 is exempt; urgency at or above
    /// drop_from_level is dropped; otherwise the budget must cover the length plus urgency * reserve_per_level.</summary>
    private static bool Admits(BudgetSpec b, long bytes, uint urgency, int length) =>
        !b.Enabled || urgency == 0 || (urgency < b.DropFromLevel && bytes >= length + urgency * (long)b.ReservePerLevel);

    /// <summary>Sends one copy per urgency and checks each verdict against <see cref="Admits"/>; returns the verdicts.</summary>
    private List<bool> Send(RelaySession s, SubscriberSpec sub, BudgetSpec budget, IEnumerable<uint> urgencies)
    {
        var verdicts = new List<bool>();
        var bytes = budget.Bytes;
        var next = s.Maps.NextPacketNumber(Slot);
        foreach (var (urgency, i) in urgencies.Select((u, i) => (u, i)))
        {
            var copy = new CopyCase(protocol, sub, new HeaderFields { Urgency = urgency, PacketNumber = (ulong)i });
            var sid = copy.MapStream(s.Maps, Slot);
            var admitted = Admits(budget, bytes, urgency, copy.PayloadLength);
            var fixture = admitted
                ? new PacketFixture($"#{i} urgency {urgency} admitted", copy.Input, TcAct.Ok, copy.Expected(next++, sid), s.CloneFor(Slot))
                : new PacketFixture($"#{i} urgency {urgency} dropped", copy.Input, TcAct.Shot, Context: s.CloneFor(Slot));
            s.SubscriberEgress.Run(fixture);
            if (admitted && budget.Enabled)
                bytes -= copy.PayloadLength;
            verdicts.Add(admitted);
        }
        Assert.Equal(budget with { Bytes = bytes }, s.Maps.Budget(Slot)); // debited by UDP payload bytes, admitted copies only
        return verdicts;
    }

    [BpfFact]
    public void A_shrinking_budget_sheds_the_least_urgent_levels_first_and_never_urgency_zero()
    {
        using var s = Session();
        var sub = s.AddSubscriber(Slot, nextPacketNumber: Start);
        var length = new CopyCase(protocol, sub, new HeaderFields()).PayloadLength;
        var budget = new BudgetSpec(8L * length, true, (uint)length, (uint)protocol.UrgencyLevels);
        s.Maps.SetBudget(Slot, budget);
        var urgencies = Enumerable.Range(0, 48).Select(i => (uint)(i % 4)).ToList();

        var verdicts = Send(s, sub, budget, urgencies);

        var admitted = verdicts.Count(v => v);
        var dropped = verdicts.Count - admitted;
        Assert.All(urgencies.Zip(verdicts).Where(p => p.First == 0), p => Assert.True(p.Second));
        Assert.True(s.Maps.Budget(Slot).Bytes < 0, "urgency 0 keeps going and drives the budget negative");
        // The budget only shrinks: once a level is refused, no less urgent level gets through any more.
        var indexed = urgencies.Zip(verdicts).Select((p, i) => (Urgency: p.First, Admitted: p.Second, Index: i)).ToList();
        for (uint u = 1; u < 3; u++)
        {
            var firstDrop = indexed.First(x => x.Urgency == u && !x.Admitted).Index;
            var lastLessUrgent = indexed.Where(x => x.Urgency == u + 1 && x.Admitted).Max(x => x.Index);
            Assert.True(lastLessUrgent < firstDrop, $"urgency {u + 1} admitted at #{lastLessUrgent} after urgency {u} was refused at #{firstDrop}");
        }
        Assert.True(dropped > 0);

        Assert.Equal(Start + (ulong)admitted, s.Maps.NextPacketNumber(Slot)); // drops consume no number
        Assert.Equal(new RelayStats { EgressRewritten = (ulong)admitted, EgressDroppedBudget = (ulong)dropped }, s.Maps.Stats());
        Assert.Equal(new SubscriberCounters
        {
            ForwardedPackets = (ulong)admitted, ForwardedBytes = (ulong)(admitted * length), DroppedBudget = (ulong)dropped,
        }, s.Maps.SubscriberStats(Slot));
        var events = s.TakeEvents();
        Assert.Equal(urgencies.Zip(verdicts).Where(p => p.Second).Select(p => (byte)p.First), events.Select(e => e.Urgency));
        Assert.Equal(Enumerable.Range(0, admitted).Select(i => Start + (ulong)i), events.Select(e => e.PacketNumber));
    }

    [BpfFact]
    public void Levels_from_drop_from_level_on_are_always_dropped_but_urgency_zero_is_exempt()
    {
        using var s = Session();
        var sub = s.AddSubscriber(Slot, nextPacketNumber: Start);
        var least = (uint)protocol.UrgencyLevels - 1;

        var cut = new BudgetSpec(1_000_000, true, 0, 2);
        s.Maps.SetBudget(Slot, cut);
        Assert.Equal([true, true, false, false, false], Send(s, sub, cut, [0, 1, 2, 3, least]));

        var all = new BudgetSpec(1_000_000, true, 0, 0);
        s.Maps.SetBudget(Slot, all);
        Assert.Equal([true, false, false], Send(s, sub, all, [0, 1, least]));
        Assert.Equal(Start + 3, s.Maps.NextPacketNumber(Slot));
    }

    [BpfFact]
    public void A_disabled_budget_drops_nothing_and_is_not_debited()
    {
        using var s = Session();
        var sub = s.AddSubscriber(Slot, nextPacketNumber: Start);
        var off = new BudgetSpec(0, false, 1000, 1);
        s.Maps.SetBudget(Slot, off);
        var urgencies = Enumerable.Range(0, protocol.UrgencyLevels).Select(u => (uint)u).Where(u => u < 8 || u % 37 == 0 || u == protocol.UrgencyLevels - 1).ToList();

        Assert.All(Send(s, sub, off, urgencies), Assert.True);
        Assert.Equal(0, s.Maps.Budget(Slot).Bytes);
        Assert.Equal(new RelayStats { EgressRewritten = (ulong)urgencies.Count }, s.Maps.Stats());
    }
}

[Collection(GeneratedObjectsCollection.Name)]
public sealed class CustomUdpPriorityDropTests(GeneratedObjects objects) : PriorityDropTests(objects, CustomUdpProtocol.Instance);


[Collection(GeneratedObjectsCollection.Name)]
public sealed class TickFeedPriorityDropTests(GeneratedObjects objects) : PriorityDropTests(objects, TickFeedProtocol.Instance);
