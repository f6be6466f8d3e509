using System.Runtime.InteropServices;

namespace FastRelay.Protocols.CustomUdp.Relay;

/// <summary>The Linux structures and calls behind <see cref="SendBatch"/> and <see cref="ReceiveBatch"/>: the BCL has no
/// sendmmsg/recvmmsg, and these move a whole fan-out or a whole queue of datagrams in one system call.</summary>
internal static unsafe partial class SocketSyscalls
{
    public const int MsgDontWait = 0x40;
    public const short PollIn = 0x1;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    public static partial int sendmmsg(int fd, MMsgHdr* messages, uint count, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int recvmmsg(int fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint count, int timeoutMs);
}
