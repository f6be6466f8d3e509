using FastRelay.Protocols.Moq.Clients;
using Xunit;

namespace FastRelay.Tests.Moq.Clients;

/// <summary>The subscriber's checks: corruption, gaps, duplicates, reordering and latency, fed objects by hand.</summary>
public sealed class ObjectCheckerTests
{
    private const long SentAt = 1_765_000_000_000_000;
    private static readonly SyntheticTrack Track = new(new SyntheticTrackOptions { GopFrames = 4, Layout = SubgroupLayout.PerLayer, Layers = 2, BitrateBitsPerSecond = 400_000 });

    /// <summary>Track object n as a subscriber would receive it, <paramref name="latencyUs"/> after it was sent.</summary>
    private static ReceivedObject Received(ulong n, long latencyUs = 100, Action<byte[]>? damage = null)
    {
        var planned = Track.At(n);
        var payload = new byte[planned.Size];
        SyntheticPayload.Write(payload, planned, SentAt + (long)n * 1000);
        damage?.Invoke(payload);
        return new ReceivedObject(planned.GroupId, planned.SubgroupId, planned.ObjectId, planned.Priority, payload, SentAt + (long)n * 1000 + latencyUs);
    }

    [Fact]
    public void A_clean_run_verifies_everything_with_no_gaps()
    {
        var checker = new ObjectChecker();
        for (ulong n = 0; n < 12; n++) Assert.Equal(ObjectVerdict.Ok, checker.Check(Received(n)));

        Assert.Equal((12L, 12L, 3L, 0L, 0L, 0L, 0L), (checker.Objects, checker.Verified, checker.KeyObjects, checker.IntegrityFailures, checker.MissingObjects, checker.Duplicates, checker.Gaps));
        Assert.Equal((0UL, 2UL), (checker.FirstGroup!.Value, checker.LastGroup!.Value));
    }

    [Fact]
    public void A_flipped_body_byte_is_a_checksum_failure_and_not_timed()
    {
        var checker = new ObjectChecker();
        Assert.Equal(ObjectVerdict.Corrupt, checker.Check(Received(1, damage: p => p[^1] ^= 1)));
        Assert.Equal((1L, 0L, 0L), (checker.ChecksumFailures, checker.Verified, checker.Latency.Count));
    }

    [Fact]
    public void An_intact_payload_under_another_location_is_a_location_mismatch()
    {
        var checker = new ObjectChecker();
        var moved = Received(5) with { ObjectId = 2 };
        Assert.Equal(ObjectVerdict.Corrupt, checker.Check(moved));
        Assert.Equal(1L, checker.LocationMismatches);
    }

    [Fact]
    public void A_cut_payload_is_a_length_failure()
    {
        var checker = new ObjectChecker();
        var full = Received(3);
        checker.Check(full with { Payload = full.Payload[..^10] });
        Assert.Equal(1L, checker.LengthFailures);
    }

    [Fact]
    public void Missing_objects_are_counted_and_grouped_into_gaps()
    {
        var checker = new ObjectChecker();
        foreach (var n in new ulong[] { 0, 1, 4, 5, 6, 9, 10 }) checker.Check(Received(n));
        Assert.Equal((4L, 2L), (checker.MissingObjects, checker.Gaps)); // 2-3 and 7-8
    }

    [Fact]
    public void A_second_delivery_is_a_duplicate_and_is_timed_once()
    {
        var checker = new ObjectChecker();
        checker.Check(Received(0));
        checker.Check(Received(1));
        Assert.Equal(ObjectVerdict.Duplicate, checker.Check(Received(1, latencyUs: 9999)));
        Assert.Equal((1L, 2L, 2L), (checker.Duplicates, checker.Verified, checker.Latency.Count));
        Assert.Equal(100, checker.Latency.Max);
    }

    [Fact]
    public void A_late_object_from_another_subgroup_is_reordered_not_an_error()
    {
        var checker = new ObjectChecker();
        foreach (var n in new ulong[] { 0, 1, 2 }) checker.Check(Received(n));
        checker.Check(Received(4)); // group 1's key object (subgroup 0) overtook...
        checker.Check(Received(3)); // ...the last delta of group 0 (subgroup 1): another stream, so no violation
        Assert.Equal((1L, 0L, 0L), (checker.Reordered, checker.MissingObjects, checker.OutOfOrderInSubgroup));
    }

    [Fact]
    public void Object_ids_falling_inside_one_subgroup_are_an_integrity_failure()
    {
        var checker = new ObjectChecker();
        checker.Check(Received(0)); // group 0 subgroup 0
        checker.Check(Received(2)); // group 0 subgroup 1, object 2
        checker.Check(Received(1)); // group 0 subgroup 1, object 1: went backwards on one stream
        Assert.Equal(1L, checker.OutOfOrderInSubgroup);
        Assert.Equal(0L, checker.ChecksumFailures + checker.LengthFailures + checker.LocationMismatches);
    }

    [Fact]
    public void Fetched_objects_do_not_count_against_subgroup_order()
    {
        var checker = new ObjectChecker();
        checker.Check(Received(2));
        checker.Check(Received(1) with { ViaFetch = true });
        Assert.Equal((0L, 1L), (checker.OutOfOrderInSubgroup, checker.ViaFetch));
    }

    [Fact]
    public void Latency_is_receive_minus_send_and_negative_ones_are_set_aside()
    {
        var checker = new ObjectChecker();
        for (ulong n = 0; n < 100; n++) checker.Check(Received(n, latencyUs: (long)n + 1));
        checker.Check(Received(100, latencyUs: -5));
        var stats = checker.Latency.Stats();
        Assert.Equal((100L, 1L, 50L, 90L, 99L, 100L), (stats.Count, stats.MinUs, stats.P50Us, stats.P90Us, stats.P99Us, stats.MaxUs));
        Assert.Equal(1L, checker.NegativeLatencies);
    }

    [Fact]
    public void Unstamped_objects_are_counted_not_judged()
    {
        var checker = new ObjectChecker();
        Assert.Equal(ObjectVerdict.Unstamped, checker.Check(new ReceivedObject(0, 0, 0, 0, "\0\0\0\u0010moof"u8.ToArray(), 0)));
        Assert.Equal((1L, 0L, 0L), (checker.Unstamped, checker.IntegrityFailures, checker.Verified));
    }
}
