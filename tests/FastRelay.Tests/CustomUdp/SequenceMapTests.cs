using FastRelay.Protocols.CustomUdp.Relay;
using Xunit;

namespace FastRelay.Tests.CustomUdp;

/// <summary>The relay's subscriber-number → publisher-number runs, as the kernel's run registration fills them.</summary>
public sealed class SequenceMapTests
{
    private static ulong? Get(SequenceMap map, ulong subscriber, ulong next = 1000) =>
        map.TryGet(subscriber, next, out var publisher) ? publisher : null;

    [Fact]
    public void Numbers_after_a_registration_continue_its_run_until_the_next_one()
    {
        var map = new SequenceMap(16);
        map.Record(10, 0x31);
        map.Record(13, 0x35); // 0x34 was dropped for this subscriber
        map.Record(15, 0x99); // a packet of the relay's own stack
        map.Record(16, 0x37);

        Assert.Equal([0x31UL, 0x32, 0x33, 0x35, 0x36, 0x99, 0x37, 0x38], new ulong[] { 10, 11, 12, 13, 14, 15, 16, 17 }.Select(s => Get(map, s)!.Value));
        Assert.Null(Get(map, 9)); // before the first registration
    }

    [Fact]
    public void Nothing_at_or_beyond_the_next_sequence_is_answered()
    {
        var map = new SequenceMap(16);
        map.Record(0, 100);
        Assert.Equal(104UL, Get(map, 4, next: 5));
        Assert.Null(Get(map, 5, next: 5));
        Assert.Null(Get(map, 50, next: 5));
    }

    [Fact]
    public void Per_copy_registrations_that_follow_each_other_take_one_run()
    {
        var map = new SequenceMap(2);
        for (var s = 0UL; s < 100; s++)
            map.Record(s, 500 + s);
        map.Record(100, 700);
        // Two runs in a ring of two: had every copy taken an entry, the first ones would be gone.
        Assert.Equal(500UL, Get(map, 0));
        Assert.Equal(599UL, Get(map, 99));
        Assert.Equal(701UL, Get(map, 101));
    }

    [Fact]
    public void A_registration_arriving_late_from_another_CPU_is_put_in_its_place()
    {
        var map = new SequenceMap(16);
        map.Record(10, 0x31);
        map.Record(20, 0x50);
        map.Record(15, 0x40); // older than the newest run
        Assert.Equal(0x35UL, Get(map, 14));
        Assert.Equal(0x41UL, Get(map, 16));
        Assert.Equal(0x51UL, Get(map, 21));
    }

    [Fact]
    public void The_oldest_runs_are_evicted_and_then_unknown()
    {
        var map = new SequenceMap(3);
        map.Record(0, 100);
        map.Record(10, 200);
        map.Record(20, 300);
        map.Record(30, 400);
        map.Record(5, 150); // older than everything kept: ignored
        Assert.Null(Get(map, 5));
        Assert.Equal(201UL, Get(map, 11));
        Assert.Equal(405UL, Get(map, 35));
    }

    [Fact]
    public void Cleared_runs_answer_nothing()
    {
        var map = new SequenceMap(4);
        map.Record(0, 100);
        map.Clear();
        Assert.Null(Get(map, 0));
        map.Record(3, 9);
        Assert.Equal(10UL, Get(map, 4));
    }
}
