using System.Runtime.InteropServices;
using FastRelay.Bpf.Native;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastRelay.Bpf;

/// <summary>
/// The BPF file system, where maps are pinned so tools (<c>bpftool map dump pinned …</c>) and later processes can
/// reach them. It belongs to the mount namespace: <c>ip netns exec</c> remounts /sys and hides it, so mount a fresh
/// one with <see cref="EnsureMounted"/> (or enter network namespaces with setns/nsenter instead).
/// </summary>
public static unsafe class BpfFs
{
    public const string DefaultRoot = "/sys/fs/bpf";
    /// <summary>Under the root, every relay instance pins into <c>fastrelay/&lt;instance&gt;</c>.</summary>
    public const string FastRelayDirectory = "fastrelay";

    /// <summary>Whether <paramref name="path"/> lies on a bpf file system (statfs f_type BPF_FS_MAGIC).</summary>
    public static bool IsBpfFs(string path)
    {
        // struct statfs is 120 bytes on x86-64 and arm64; f_type is its first (long) member.
        byte* buf = stackalloc byte[256];
        if (LibC.statfs(path, buf) != 0) return false;
        return *(long*)buf == LibC.BPF_FS_MAGIC;
    }

    /// <summary>Mounts a bpf file system at <paramref name="path"/> (creating the directory) unless one is there.</summary>
    /// <exception cref="IOException">mount(2) failed, e.g. without CAP_SYS_ADMIN.</exception>
    public static void EnsureMounted(string path = DefaultRoot, ILogger? logger = null)
    {
        logger ??= NullLogger.Instance;
        if (IsBpfFs(path)) return;
        Directory.CreateDirectory(path);
        if (LibC.mount("bpf", path, "bpf", 0, 0) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"mount -t bpf bpf {path} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }
        logger.LogInformation("Mounted bpffs at {Path}", path);
    }

    /// <summary>Lazily unmounts a bpffs mounted by <see cref="EnsureMounted"/> (MNT_DETACH: pins a killed relay left
    /// behind cannot keep it busy) and removes the then empty directory.</summary>
    public static void Unmount(string path)
    {
        if (!Directory.Exists(path)) return;
        if (IsBpfFs(path))
            LibC.umount2(path, LibC.MNT_DETACH);
        try
        {
            Directory.Delete(path);
        }
        catch (IOException)
        {
            // Something else lives there now; leave the directory.
        }
    }

    /// <summary><c>&lt;root&gt;/fastrelay/&lt;instance&gt;</c>, after checking the instance name is one path segment.</summary>
    public static string InstancePath(string instance, string root = DefaultRoot)
    {
        if (string.IsNullOrEmpty(instance) || instance is "." or ".." ||
            instance.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            throw new ArgumentException($"relay instance name '{instance}' must be letters, digits, '-', '_' or '.'", nameof(instance));
        return Path.Combine(root, FastRelayDirectory, instance);
    }
}

/// <summary>
/// The pin directory of one relay instance, <c>/sys/fs/bpf/fastrelay/&lt;instance&gt;</c>. Either set
/// <see cref="BpfObjectOptions.PinRootPath"/> to <see cref="Path"/> (maps declared with
/// <c>__uint(pinning, LIBBPF_PIN_BY_NAME)</c> are pinned at load and reused if already there), or pin loaded maps
/// with <see cref="PinMaps"/>. <see cref="Dispose"/> removes the pins and the directory on clean shutdown; the
/// kernel maps live on only while something else still holds them.
/// One process at a time owns an instance: <see cref="Create"/> takes an exclusive flock on the directory, held until
/// <see cref="Dispose"/> (the kernel drops it when the process dies, even by kill -9), so a second relay started with a
/// live one's name fails instead of deleting the live relay's pins.
/// </summary>
public sealed class BpfPinDirectory : IDisposable
{
    private readonly ILogger _logger;
    private readonly OwnedFd _lock;
    private int _removed;

    private BpfPinDirectory(string path, OwnedFd instanceLock, ILogger logger)
    {
        Path = path;
        _lock = instanceLock;
        _logger = logger;
    }

    public string Path { get; }

    /// <summary>Mounts bpffs at <paramref name="root"/> if needed, creates the instance directory and takes the
    /// instance's lock. Pins a previous process of the same instance left (killed before cleanup) are removed unless
    /// <paramref name="keepExisting"/> (to reuse them through LIBBPF_PIN_BY_NAME).</summary>
    /// <exception cref="BpfInstanceBusyException">A live process owns the instance.</exception>
    public static BpfPinDirectory Create(string instance, string root = BpfFs.DefaultRoot, ILogger? logger = null, bool keepExisting = false)
    {
        logger ??= NullLogger.Instance;
        var path = BpfFs.InstancePath(instance, root);
        BpfFs.EnsureMounted(root, logger);
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (DirectoryNotFoundException)
        {
            // The last other instance removed the shared fastrelay directory between our check and our mkdir: once more.
            Directory.CreateDirectory(path);
        }
        var dir = new BpfPinDirectory(path, Lock(path, instance), logger);
        if (!keepExisting)
        {
            foreach (var stale in Directory.GetFileSystemEntries(path))
            {
                logger.LogWarning("Removing stale pin {Pin} of relay instance {Instance}", stale, instance);
                File.Delete(stale);
            }
        }
        return dir;
    }

    /// <summary>An exclusive, non-blocking flock on the directory itself (bpffs holds no regular files, but any
    /// directory fd can carry a flock).</summary>
    private static OwnedFd Lock(string path, string instance)
    {
        var fd = new OwnedFd(LibC.open(path, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC));
        if (fd.IsInvalid)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"open {path}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }
        if (LibC.flock(fd.Fd, LibC.LOCK_EX | LibC.LOCK_NB) == 0)
            return fd;
        int error = Marshal.GetLastPInvokeError();
        fd.Dispose();
        if (error == LibC.EWOULDBLOCK)
            throw new BpfInstanceBusyException(instance, path);
        throw new IOException($"flock {path}: {Marshal.GetPInvokeErrorMessage(error)} (errno {error})");
    }

    /// <summary>Where <paramref name="mapName"/> is (or would be) pinned.</summary>
    public string PinPath(string mapName) => System.IO.Path.Combine(Path, mapName);

    /// <summary>Pins the object's maps at <see cref="PinPath"/>(name). libbpf's internal maps (.data, .bss, .rodata,
    /// .kconfig: names containing '.') are skipped unless <paramref name="includeInternal"/>. Maps libbpf already
    /// pinned (LIBBPF_PIN_BY_NAME) are left as they are.</summary>
    public IReadOnlyList<string> PinMaps(BpfObject obj, bool includeInternal = false, Func<BpfMap, bool>? filter = null)
    {
        var pinned = new List<string>();
        foreach (var map in obj.Maps)
        {
            if (!includeInternal && map.Name.Contains('.')) continue;
            if (filter is not null && !filter(map)) continue;
            if (map.IsPinned)
            {
                pinned.Add(map.PinnedPath!);
                continue;
            }
            var path = PinPath(map.Name);
            map.Pin(path);
            _logger.LogDebug("Pinned map {Map} at {Path}", map.Name, path);
            pinned.Add(path);
        }
        return pinned;
    }

    /// <summary>Unlinks every pin in the directory and the directory itself, and the shared <c>fastrelay</c> directory
    /// above it when no other instance is left in it (nothing of ours stays in the bpffs). Idempotent.</summary>
    public void RemovePins()
    {
        if (Interlocked.Exchange(ref _removed, 1) != 0) return;
        if (!Directory.Exists(Path)) return;
        foreach (var pin in Directory.GetFileSystemEntries(Path))
            File.Delete(pin);
        Directory.Delete(Path);
        _logger.LogInformation("Removed pins at {Path}", Path);
        var parent = System.IO.Path.GetDirectoryName(Path);
        try
        {
            if (parent is not null && Directory.Exists(parent) && Directory.GetFileSystemEntries(parent).Length == 0) Directory.Delete(parent);
        }
        catch (IOException)
        {
            // Another instance created its directory meanwhile (not empty), or removed the parent first: both fine.
        }
    }

    /// <summary><see cref="RemovePins"/>, logging failures instead of throwing.</summary>
    public void Dispose()
    {
        try { RemovePins(); }
        catch (Exception e) { _logger.LogError(e, "Removing pins at {Path} failed", Path); }
        finally { _lock.Dispose(); }
    }
}
