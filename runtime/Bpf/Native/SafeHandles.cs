using System.Runtime.InteropServices;

namespace FastRelay.Bpf.Native;

/// <summary>Owns a <c>struct bpf_object*</c>; closing it closes every program and map fd the object created.
/// Programs, maps and ring buffers take a <see cref="Lease"/> on it so a concurrent Dispose cannot free memory
/// they are using.</summary>
internal sealed class BpfObjectHandle : SafeHandle
{
    internal BpfObjectHandle(nint obj) : base(0, ownsHandle: true) => SetHandle(obj);
    public override bool IsInvalid => handle == 0;
    protected override bool ReleaseHandle()
    {
        LibBpf.bpf_object__close(handle);
        return true;
    }
}

/// <summary>Owns a <c>struct ring_buffer*</c> (its epoll fd and mmapped pages).</summary>
internal sealed class RingBufferHandle : SafeHandle
{
    private readonly Action? _afterFree;

    /// <param name="afterFree">Runs once the ring buffer is freed, i.e. after the last call that leased it returned:
    /// what its callbacks use (their context) must live until then.</param>
    internal RingBufferHandle(nint rb, Action? afterFree = null) : base(0, ownsHandle: true)
    {
        SetHandle(rb);
        _afterFree = afterFree;
    }

    public override bool IsInvalid => handle == 0;
    protected override bool ReleaseHandle()
    {
        LibBpf.ring_buffer__free(handle);
        _afterFree?.Invoke();
        return true;
    }
}

/// <summary>AddRef/Release pair around native calls that use a handle's pointer.</summary>
internal readonly ref struct Lease
{
    private readonly SafeHandle _handle;
    internal Lease(SafeHandle handle)
    {
        bool added = false;
        handle.DangerousAddRef(ref added); // throws ObjectDisposedException once closed
        _handle = handle;
    }
    public void Dispose() => _handle.DangerousRelease();
}
