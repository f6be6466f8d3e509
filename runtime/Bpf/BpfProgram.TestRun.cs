using FastRelay.Bpf.Native;

namespace FastRelay.Bpf;

public sealed unsafe partial class BpfProgram
{
    /// <summary>
    /// Runs the program once (or <paramref name="repeat"/> times) on <paramref name="packet"/> with BPF_PROG_TEST_RUN.
    /// For tc programs the packet starts at the Ethernet header. Side effects are real: maps change, ring buffer
    /// records are written, and an ingress program's clone_redirects are performed.
    /// </summary>
    /// <param name="context">Fields of <c>struct __sk_buff</c> the kernel lets a test set (null: all zero).</param>
    /// <param name="outputHeadroom">Extra output space for programs that grow the packet.</param>
    public BpfTestRunResult TestRun(ReadOnlySpan<byte> packet, SkbContext? context = null, int repeat = 1, int outputHeadroom = 512)
    {
        using var _ = new Lease(_owner.Handle);
        var output = new byte[packet.Length + outputHeadroom];
        SkBuff ctxIn = context is null ? default : context.ToNative();
        SkBuff ctxOut = default;
        fixed (byte* inp = packet)
        fixed (byte* outp = output)
        {
            var opts = new BpfTestRunOpts
            {
                Sz = (nuint)sizeof(BpfTestRunOpts),
                DataIn = inp,
                DataSizeIn = (uint)packet.Length,
                DataOut = outp,
                DataSizeOut = (uint)output.Length,
                CtxIn = context is null ? null : &ctxIn,
                CtxSizeIn = context is null ? 0u : (uint)sizeof(SkBuff),
                CtxOut = &ctxOut,
                CtxSizeOut = (uint)sizeof(SkBuff),
                Repeat = repeat,
            };
            BpfError.Check(LibBpf.bpf_prog_test_run_opts(Fd, &opts), $"test run of {Name}");
            return new BpfTestRunResult(
                (int)opts.Retval,
                output.AsSpan(0, (int)Math.Min(opts.DataSizeOut, (uint)output.Length)).ToArray(),
                TimeSpan.FromTicks(opts.Duration / 100),
                opts.Duration,
                SkbContext.FromNative(ctxOut));
        }
    }
}

/// <param name="ReturnValue">The program's return code (e.g. TC_ACT_OK = 0, TC_ACT_SHOT = 2, TC_ACT_UNSPEC = -1).</param>
/// <param name="Output">The packet as the program left it.</param>
/// <param name="Duration">Average time per run as measured by the kernel.</param>
/// <param name="DurationNanoseconds">The same, in the kernel's nanoseconds.</param>
/// <param name="Context">The <c>__sk_buff</c> fields after the run (e.g. a mark the program set).</param>
public sealed record BpfTestRunResult(int ReturnValue, byte[] Output, TimeSpan Duration, uint DurationNanoseconds, SkbContext Context);
