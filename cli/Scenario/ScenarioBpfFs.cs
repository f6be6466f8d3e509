using FastRelay.Bpf;

namespace FastRelay.Cli.Scenario;

/// <summary>
/// A bpffs of the lab's own, mounted in the root mount namespace under /run (which `ip netns exec` does not remount),
/// so the relay's pinned maps are visible to the test, `bpftool` and `fastrelay status` outside the relay namespace.
/// </summary>
public sealed partial class ScenarioBpfFs : IAsyncDisposable
{
    private ScenarioBpfFs(string path) => Path = path;

    public string Path { get; }

    public static ScenarioBpfFs Mount(string labPrefix)
    {
        var path = System.IO.Path.Combine("/run/fastrelay-lab", labPrefix + ".bpffs");
        Directory.CreateDirectory(path);
        BpfFs.EnsureMounted(path);
        return new ScenarioBpfFs(path);
    }

    public ValueTask DisposeAsync()
    {
        // MNT_DETACH: a pin a crashed relay left cannot keep the mount (and so the lab's directory) alive.
        Native.Umount2(Path, 2);
        try
        {
            Directory.Delete(Path);
        }
        catch (IOException)
        {
        }
        return ValueTask.CompletedTask;
    }

    private static partial class Native
    {
        [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "umount2", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
        public static partial int Umount2(string target, int flags);
    }
}
