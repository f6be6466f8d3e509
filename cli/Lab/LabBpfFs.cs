using FastRelay.Bpf;

namespace FastRelay.Cli.Lab;

/// <summary>
/// The lab's own bpffs, mounted in the root mount namespace under /run (which `ip netns exec` does not remount), so a
/// relay started with `--bpffs &lt;path&gt;` inside the lab pins maps that tests, `bpftool` and `fastrelay status` can
/// read from outside the relay namespace. Mounted by lab up, unmounted by lab down.
/// </summary>
public static class LabBpfFs
{
    public static string PathFor(string prefix) => Path.Combine("/run/fastrelay-lab", prefix + ".bpffs");

    public static string Mount(string prefix)
    {
        var path = PathFor(prefix);
        BpfFs.EnsureMounted(path);
        return path;
    }

    public static void Unmount(string prefix) => BpfFs.Unmount(PathFor(prefix));
}
