using FastRelay.Protocols.Quic.Streams;
using Xunit;

namespace FastRelay.Tests.Quic.Streams;

public class SendBufferTests
{
    [Fact]
    public void WriteIsLimitedByCapacityUntilAcked()
    {
        var buffer = new SendBuffer(10_000);
        Assert.Equal(10_000, buffer.Write(new byte[15_000]));
        Assert.Equal(0, buffer.FreeSpace);
        var chunk = new byte[4000];
        Assert.True(buffer.TryTakeNext(chunk, ulong.MaxValue, out ulong offset, out int length, out _));
        Assert.Equal((0UL, 4000), (offset, length));
        buffer.OnAcked(0, 4000, false);
        Assert.Equal(4000, buffer.FreeSpace);
        buffer.OnAcked(0, 4000, false);   // duplicate ack: no double credit
        Assert.Equal(4000, buffer.FreeSpace);
    }

    /// <summary>The relay skips its send pass after a write this calls silent: every case where the write does make
    /// something sendable must say so, or those bytes would wait for an unrelated event.</summary>
    [Fact]
    public void A_shadow_write_is_silent_only_when_it_gives_userspace_nothing_to_send()
    {
        var ordinary = new SendBuffer(10_000);
        Assert.False(ordinary.IsSilentShadowWrite(100, fin: false));   // not a shadow stream: its data is ours to send

        var shadow = new SendBuffer(10_000);
        shadow.Write(new byte[10]);                          // the header, ours
        shadow.BeginKernelForwarding(10);
        var dst = new byte[100];
        Assert.True(shadow.TryTakeNext(dst, ulong.MaxValue, out _, out _, out _));
        Assert.True(shadow.IsSilentShadowWrite(1000, fin: false));
        Assert.False(shadow.IsSilentShadowWrite(0, fin: true));  // FIN at forward-from: final size 10, the stack's FIN
        Assert.True(shadow.IsSilentShadowWrite(1000, fin: true)); // a FIN after kernel data is the kernel's
        Assert.Equal(1000, shadow.Write(new byte[1000]));
        Assert.False(shadow.HasPendingData(ulong.MaxValue));
        Assert.True(shadow.IsSilentShadowWrite(0, fin: true));

        // The kernel handed back a range whose bytes are not written yet: the next write makes it sendable.
        shadow.OnNotForwarded(1010, 500, fin: false);
        Assert.False(shadow.IsSilentShadowWrite(500, fin: false));
        shadow.Write(new byte[500]);
        Assert.True(shadow.HasPendingData(ulong.MaxValue));

        // And the same for a range declared lost before it was written.
        var lost = new SendBuffer(10_000);
        lost.BeginKernelForwarding(0);
        lost.OnSentExternally(0, 100, false);   // the kernel's copy, registered
        lost.OnLost(0, 100, false);
        Assert.False(lost.IsSilentShadowWrite(100, fin: false));
    }

    /// <summary>A relay's tap hands back an upstream FIN that came alone; when the kernel's copy of that FIN-only packet
    /// already carried it the stream must not send it again (one needless packet per subscriber and subgroup), and when no
    /// copy did the stream must send it.</summary>
    [Fact]
    public void A_handed_back_fin_is_sent_only_if_no_kernel_copy_carried_it()
    {
        SendBuffer Shadow()
        {
            var b = new SendBuffer(10_000);
            b.BeginKernelForwarding(0);
            b.Write(new byte[100]);
            b.OnSentExternally(0, 100, fin: false);
            b.Finish();
            return b;
        }
        var carried = Shadow();
        carried.OnSentExternally(100, 0, fin: true);   // the kernel's FIN-only copy
        carried.OnNotForwarded(100, 0, fin: true);
        Assert.False(carried.HasRetransmission);
        carried.OnLost(100, 0, fin: true);             // that copy lost: now the stream sends the FIN
        Assert.True(carried.HasRetransmission);

        var notCarried = Shadow();
        notCarried.OnNotForwarded(100, 0, fin: true);
        Assert.True(notCarried.HasRetransmission);
    }

    [Fact]
    public void FlowLimitCapsNewDataButNotRetransmissions()
    {
        var buffer = new SendBuffer(100_000);
        buffer.Write(new byte[5000]);
        var dst = new byte[10_000];
        Assert.True(buffer.TryTakeNext(dst, 1000, out _, out int length, out _));
        Assert.Equal(1000, length);
        Assert.False(buffer.HasPendingData(1000));
        Assert.False(buffer.TryTakeNext(dst, 1000, out _, out _, out _));
        Assert.True(buffer.IsBlockedBy(1000));
        buffer.OnLost(0, 1000, false);
        Assert.True(buffer.HasPendingData(1000));
        Assert.True(buffer.TryTakeNext(dst, 1000, out ulong offset, out length, out _));
        Assert.Equal((0UL, 1000), (offset, length));
    }

    [Fact]
    public void FinAloneIsSentAndResentWhenLost()
    {
        var buffer = new SendBuffer(100);
        buffer.Write(new byte[10]);
        var dst = new byte[100];
        Assert.True(buffer.TryTakeNext(dst, 100, out _, out int length, out bool fin));
        Assert.Equal(10, length);
        Assert.False(fin);
        buffer.Finish();
        Assert.True(buffer.TryTakeNext(dst, 100, out ulong offset, out length, out fin));
        Assert.Equal((10UL, 0, true), (offset, length, fin));
        buffer.OnAcked(0, 10, false);
        Assert.False(buffer.IsFullyAcknowledged);
        buffer.OnLost(10, 0, true);
        Assert.True(buffer.TryTakeNext(dst, 100, out offset, out length, out fin));
        Assert.Equal((10UL, 0, true), (offset, length, fin));
        buffer.OnAcked(10, 0, true);
        Assert.True(buffer.IsFullyAcknowledged);
        Assert.False(buffer.HasPendingData(ulong.MaxValue));
    }

    [Fact]
    public void FinAloneAcknowledgedBeforeTheDataItFollows()
    {
        // The FIN-only frame's ACK can arrive first (the data frame was lost, or reordered): an empty range that must
        // neither throw nor count as data.
        var buffer = new SendBuffer(100);
        buffer.Write(new byte[10]);
        var dst = new byte[100];
        Assert.True(buffer.TryTakeNext(dst, 100, out _, out _, out _));
        buffer.Finish();
        Assert.True(buffer.TryTakeNext(dst, 100, out ulong offset, out int length, out bool fin));
        Assert.Equal((10UL, 0, true), (offset, length, fin));
        buffer.OnAcked(10, 0, true);
        Assert.False(buffer.IsFullyAcknowledged);
        buffer.OnLost(0, 10, false);
        Assert.True(buffer.TryTakeNext(dst, 100, out offset, out length, out fin));
        Assert.Equal((0UL, 10, false), (offset, length, fin));
        buffer.OnAcked(0, 10, false);
        Assert.True(buffer.IsFullyAcknowledged);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void RandomTakeAckLoseCycles(int seed)
    {
        var rng = new Random(seed);
        var data = new byte[rng.Next(1000, 300_000)];
        rng.NextBytes(data);
        var buffer = new SendBuffer(64 * 1024);
        var acked = new bool[data.Length];
        var inFlight = new List<(ulong Offset, int Length, bool Fin)>();
        int written = 0;
        ulong flowLimit = 0;
        bool finAcked = false;
        int ackedCount = 0;
        var dst = new byte[3000];
        for (int round = 0; round < 1_000_000 && !buffer.IsFullyAcknowledged; round++)
        {
            if (written < data.Length)
            {
                written += buffer.Write(data.AsSpan(written, Math.Min(rng.Next(1, 20_000), data.Length - written)));
                if (written == data.Length) buffer.Finish();
            }
            flowLimit += (ulong)rng.Next(0, 3000);
            for (int k = rng.Next(1, 4); k > 0; k--)
            {
                var slice = dst.AsSpan(0, rng.Next(1, dst.Length));
                if (!buffer.TryTakeNext(slice, flowLimit, out ulong offset, out int length, out bool fin)) break;
                Assert.True(offset + (ulong)length <= flowLimit, "flow limit exceeded");
                Assert.True(slice[..length].SequenceEqual(data.AsSpan((int)offset, length)), "bytes differ from the original");
                for (int i = 0; i < length; i++) Assert.False(acked[(int)offset + i], "acked byte resent");
                if (fin) Assert.Equal((ulong)data.Length, offset + (ulong)length);
                inFlight.Add((offset, length, fin));
            }
            // Resolve some in-flight ranges: ack (~70 %) or lose, in random order.
            for (int k = rng.Next(0, inFlight.Count + 1); k > 0 && inFlight.Count > 0; k--)
            {
                int index = rng.Next(inFlight.Count);
                var (offset, length, fin) = inFlight[index];
                inFlight.RemoveAt(index);
                if (rng.Next(10) < 7)
                {
                    buffer.OnAcked(offset, (ulong)length, fin);
                    for (int i = 0; i < length; i++)
                    {
                        if (!acked[(int)offset + i]) ackedCount++;
                        acked[(int)offset + i] = true;
                    }
                    finAcked |= fin;
                }
                else buffer.OnLost(offset, (ulong)length, fin);
                Assert.Equal(finAcked && ackedCount == data.Length && written == data.Length, buffer.IsFullyAcknowledged);
            }
        }
        Assert.True(buffer.IsFullyAcknowledged);
        Assert.True(acked.All(b => b));
        Assert.True(buffer.RetainedBytes <= 4096);
    }
}
