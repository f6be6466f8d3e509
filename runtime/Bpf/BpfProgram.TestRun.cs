using FastRelay.Bpf.Native;

namespace FastRelay.Bpf;

public sealed unsafe partial class BpfProgram
{
    /// <summary>How often a repeated test run interrupted by a signal is run again before the error is the caller's.</summary>
    private const int MaxInterruptedTestRuns = 20;

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
            // A repeated run stops with EINTR when a signal is pending between repetitions (the runtime signals its threads,
            // e.g. to suspend them for a collection; a CI run failed on it once). Run again, a bounded number of times:
            // the kernel checks only between repetitions, so a single run is never interrupted; a repeated one runs its
            // repetitions again from the start (their side effects too: a timing run's, which the caller did not count).
            int result;
            for (int attempt = 0; ; attempt++)
            {
                result = LibBpf.bpf_prog_test_run_opts(Fd, &opts);
                if (result != -LibC.EINTR || attempt == MaxInterruptedTestRuns) break;
                opts.DataSizeOut = (uint)output.Length;
                opts.CtxSizeOut = (uint)sizeof(SkBuff);
            }
            BpfError.Check(result, $"test run of {Name}");
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
