using FastRelay.Bpf.Native;

namespace FastRelay.Bpf;

public sealed unsafe partial class BpfProgram
{
    /// <summary>
    /// Runs a BPF_PROG_TYPE_SYSCALL program (SEC("syscall")) once with BPF_PROG_TEST_RUN: <paramref name="context"/> is
    /// its argument (ctx_in) and receives what the program wrote into it. This is how userspace hands key bytes to the
    /// BPF crypto kfuncs, which only a syscall program may call to create a context. Returns the program's return value.
    /// </summary>
    public int RunSyscall(Span<byte> context)
    {
        using var _ = new Lease(_owner.Handle);
        fixed (byte* ctx = context)
        {
            var opts = new BpfTestRunOpts
            {
                Sz = (nuint)sizeof(BpfTestRunOpts),
                CtxIn = ctx,
                CtxSizeIn = (uint)context.Length,
                Repeat = 0, // the kernel refuses repeat, data and ctx_out for syscall programs (EINVAL); ctx_in is copied back
            };
            BpfError.Check(LibBpf.bpf_prog_test_run_opts(Fd, &opts), $"syscall run of {Name}");
            return (int)opts.Retval;
        }
    }
}
