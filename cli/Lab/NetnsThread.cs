using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace FastRelay.Cli.Lab;

/// <summary>
/// Runs code inside a named network namespace (<c>/run/netns/&lt;name&gt;</c>) without spawning a process: a dedicated
/// thread calls setns(2) and then runs the body synchronously. The thread ends with the body, so no other code ever
/// runs in that namespace by accident.
/// </summary>
/// <remarks>
/// A socket keeps the namespace it was created in for its whole life, whichever thread uses it later. So the usual
/// pattern is <see cref="CreateSocket"/> (or <see cref="CreateUdpSocket"/>) here, then ordinary (async) socket calls
/// from anywhere. Do not <c>await</c> inside a body: the continuation would run on a thread-pool thread, which is in
/// the root namespace.
/// </remarks>
public static partial class NetnsThread
{
    /// <summary>Where <c>ip netns add</c> keeps its namespace handles.</summary>
    public const string RunDirectory = "/run/netns";

    private const int CloneNewNet = 0x40000000;
    private const int ORdOnly = 0, OCloExec = 0x80000;

    /// <summary>Runs <paramref name="body"/> on a new thread inside <paramref name="netns"/> (a name under /run/netns, or a path).</summary>
    public static Task<T> RunAsync<T>(string netns, Func<T> body)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Enter(netns);
                done.SetResult(body());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        })
        {
            IsBackground = true,
            Name = "netns " + netns,
        };
        thread.Start();
        return done.Task;
    }

    /// <summary>Runs <paramref name="body"/> on a new thread inside <paramref name="netns"/>.</summary>
    public static Task RunAsync(string netns, Action body) => RunAsync(netns, () => { body(); return true; });

    /// <summary>Blocking form of <see cref="RunAsync{T}"/>.</summary>
    public static T Run<T>(string netns, Func<T> body) => RunAsync(netns, body).GetAwaiter().GetResult();

    /// <summary>Blocking form of <see cref="RunAsync(string, Action)"/>.</summary>
    public static void Run(string netns, Action body) => RunAsync(netns, body).GetAwaiter().GetResult();

    /// <summary>A socket that lives in <paramref name="netns"/>; use it from any thread.</summary>
    public static Socket CreateSocket(string netns, AddressFamily family, SocketType type = SocketType.Dgram, ProtocolType protocol = ProtocolType.Udp) =>
        Run(netns, () => new Socket(family, type, protocol));

    /// <summary>A UDP socket in <paramref name="netns"/>, bound to <paramref name="local"/> (port 0 picks a free port).</summary>
    public static Socket CreateUdpSocket(string netns, IPEndPoint local)
    {
        var socket = CreateSocket(netns, local.AddressFamily);
        try
        {
            socket.Bind(local); // bind(2) resolves against the socket's namespace, not the caller's
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Moves the calling thread into the namespace. Only for threads that will never run anything else.</summary>
    private static void Enter(string netns)
    {
        var path = netns.Contains('/') ? netns : Path.Combine(RunDirectory, netns);
        var fd = Open(path, ORdOnly | OCloExec);
        if (fd < 0)
            throw new IOException($"cannot open network namespace {path}: {Marshal.GetLastPInvokeErrorMessage()}");
        try
        {
            if (SetNs(fd, CloneNewNet) != 0)
                throw new IOException($"setns({path}) failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }
        finally
        {
            Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
