using System.Runtime.InteropServices;

namespace FastRelay.Net;

/// <summary>
/// The Linux socket calls and structures the BCL does not expose, shared by every relay and the QUIC endpoint:
/// sendmmsg/recvmmsg (a whole fan-out or a whole queue of datagrams in one system call), poll, and the control-message
/// header. Layouts are the 64-bit Linux ABI (x86-64 and arm64 agree).
/// </summary>
public static unsafe partial class LinuxSockets
{
    public const int MsgDontWait = 0x40;
    public const int MsgTrunc = 0x20;
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
    public struct CMsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    /// <summary>CMSG_SPACE for a payload of up to 8 bytes: the header (16) plus the payload rounded up to 8.</summary>
    public const int SmallCMsgSpace = 24;

    /// <summary>CMSG_LEN: header plus payload, unpadded.</summary>
    public static nuint CMsgLength(int payload) => (nuint)(sizeof(CMsgHdr) + payload);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int sendmmsg(int fd, MMsgHdr* messages, uint count, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int recvmmsg(int fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint count, int timeoutMs);

    [StructLayout(LayoutKind.Sequential)]
    public struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>poll with a nanosecond timeout (null: none); the signal mask is left as it is.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int ppoll(PollFd* fds, nuint count, TimeSpec* timeout, void* signalMask);

    public const short PollNval = 0x020;

    public static int LastError => Marshal.GetLastPInvokeError();
}
