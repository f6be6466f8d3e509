using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using FastRelay.Bpf.Native;

namespace FastRelay.Net;

/// <summary>
/// A handle on a network namespace (an open nsfs fd). Network namespaces are per thread, so <see cref="Run{T}"/>
/// executes code on a fresh thread that has entered this namespace with setns(2) and exits afterwards: the caller's
/// threads and the thread pool never change namespace. ifindexes, netlink and tc calls inside see this namespace;
/// file system paths (/sys/class/net, /sys/fs/bpf) do not follow (they belong to the mount namespace).
/// </summary>
public sealed class NetworkNamespace : IDisposable
{
    private readonly OwnedFd _fd;

    private NetworkNamespace(OwnedFd fd, string path, string identity)
    {
        _fd = fd;
        Path = path;
        Identity = identity;
    }

    /// <summary>The path it was opened from.</summary>
    public string Path { get; }

    /// <summary>The nsfs identity, e.g. <c>net:[4026532301]</c>: equal identities are the same namespace.</summary>
    public string Identity { get; }

    /// <summary>A namespace created by <c>ip netns add &lt;name&gt;</c> (bind-mounted at /run/netns/&lt;name&gt;).</summary>
    public static NetworkNamespace Open(string name)
    {
        if (name.Contains('/')) throw new ArgumentException($"netns name '{name}' must not contain '/'", nameof(name));
        return OpenPath($"/run/netns/{name}");
    }

    /// <summary>Any nsfs path, e.g. /proc/&lt;pid&gt;/ns/net.</summary>
    public static NetworkNamespace OpenPath(string path)
    {
        int fd = LibC.open(path, LibC.O_RDONLY | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"cannot open network namespace {path}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }
        var handle = new OwnedFd(fd);
        try
        {
            return new NetworkNamespace(handle, path, ReadIdentity($"/proc/self/fd/{fd}"));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The calling thread's namespace.</summary>
    public static NetworkNamespace Current() => OpenPath("/proc/thread-self/ns/net");

    /// <summary>The calling thread's namespace identity without opening it.</summary>
    public static string CurrentIdentity() => ReadIdentity("/proc/thread-self/ns/net");

    /// <summary>Whether the calling thread is in this namespace.</summary>
    public bool IsCurrent => CurrentIdentity() == Identity;

    private static string ReadIdentity(string link) =>
        new FileInfo(link).LinkTarget ?? throw new IOException($"{link} is not a namespace link");

    /// <summary>Runs <paramref name="action"/> inside this namespace (directly when the caller is already in it).</summary>
    public void Run(Action action) => Run<object?>(() => { action(); return null; });

    /// <summary>Runs <paramref name="func"/> inside this namespace on a dedicated thread and returns its result;
    /// exceptions resurface with their original stack. Runs directly when the caller is already in it.</summary>
    public T Run<T>(Func<T> func)
    {
        if (IsCurrent) return func();
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        bool added = false;
        _fd.DangerousAddRef(ref added);
        try
        {
            int fd = _fd.Fd;
            var thread = new Thread(() =>
            {
                try
                {
                    if (LibC.setns(fd, LibC.CLONE_NEWNET) != 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        throw new IOException($"setns({Path}) failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
                    }
                    result = func();
                }
                catch (Exception e)
                {
                    failure = ExceptionDispatchInfo.Capture(e);
                }
            })
            {
                IsBackground = true,
                Name = $"netns {Identity}",
            };
            thread.Start();
            thread.Join();
        }
        finally
        {
            _fd.DangerousRelease();
        }
        failure?.Throw();
        return result;
    }

    public void Dispose() => _fd.Dispose();

    public override string ToString() => $"{Path} ({Identity})";
}
