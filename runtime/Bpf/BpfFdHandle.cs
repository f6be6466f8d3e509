using System.Runtime.InteropServices;
using FastRelay.Bpf.Native;

namespace FastRelay.Bpf;

/// <summary>A file descriptor this process owns outright (e.g. a duplicated program fd handed to attach code),
/// closed exactly once.</summary>
public sealed class BpfFdHandle : SafeHandle
{
    internal BpfFdHandle(int fd) : base(-1, ownsHandle: true) => SetHandle(fd);
    public override bool IsInvalid => handle < 0;
    /// <summary>The raw fd; valid until this handle is disposed.</summary>
    public int Fd => (int)handle;
    protected override bool ReleaseHandle() => LibC.close((int)handle) == 0;
}
