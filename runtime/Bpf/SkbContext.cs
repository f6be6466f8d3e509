using FastRelay.Bpf.Native;

namespace FastRelay.Bpf;

/// <summary>
/// The <c>struct __sk_buff</c> members BPF_PROG_TEST_RUN accepts as input (the kernel rejects a context with any other
/// member set) and reports back. <see cref="Ifindex"/> must name an existing device when above 1 (default: loopback).
/// </summary>
public sealed record SkbContext
{
    public uint Mark { get; init; }
    public uint Priority { get; init; }
    public uint IngressIfindex { get; init; }
    public uint Ifindex { get; init; }
    /// <summary>skb->cb[0..4]; at most 5 values.</summary>
    public IReadOnlyList<uint> Cb { get; init; } = [];
    public ulong Tstamp { get; init; }
    /// <summary>0 means the packet length.</summary>
    public uint WireLen { get; init; }
    public uint GsoSegs { get; init; }
    public uint GsoSize { get; init; }

    internal unsafe SkBuff ToNative()
    {
        if (Cb.Count > 5) throw new ArgumentException("__sk_buff.cb has 5 slots", nameof(Cb));
        var s = new SkBuff
        {
            Mark = Mark, Priority = Priority, IngressIfindex = IngressIfindex, Ifindex = Ifindex,
            Tstamp = Tstamp, WireLen = WireLen, GsoSegs = GsoSegs, GsoSize = GsoSize,
        };
        for (int i = 0; i < Cb.Count; i++) s.Cb[i] = Cb[i];
        return s;
    }

    internal static unsafe SkbContext FromNative(in SkBuff s)
    {
        var cb = new uint[5];
        for (int i = 0; i < 5; i++) cb[i] = s.Cb[i];
        return new SkbContext
        {
            Mark = s.Mark, Priority = s.Priority, IngressIfindex = s.IngressIfindex, Ifindex = s.Ifindex, Cb = cb,
            Tstamp = s.Tstamp, WireLen = s.WireLen, GsoSegs = s.GsoSegs, GsoSize = s.GsoSize,
        };
    }
}
