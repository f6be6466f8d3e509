using System.Runtime.InteropServices;

namespace FastRelay.Protocols.Quic.Io;

/// <summary>
/// The few Linux socket calls .NET does not expose: sendmmsg/recvmmsg (many datagrams per system call) and the UDP
/// segmentation offload control messages (UDP_SEGMENT on send, UDP_GRO on receive). Layouts are the 64-bit Linux ABI
/// (x86-64 and arm64 agree); <see cref="IsSupported"/> is false elsewhere and callers use the managed Socket calls.
/// </summary>
internal static unsafe class LinuxUdp
{
    public static bool IsSupported { get; } = OperatingSystem.IsLinux() && IntPtr.Size == 8;

    public const int SolUdp = 17;
    /// <summary>setsockopt/cmsg: send this buffer as segments of this many bytes (u16), kernel 4.18+.</summary>
    public const int UdpSegment = 103;
    /// <summary>setsockopt: let the kernel coalesce same-flow datagrams into one read; cmsg on receive: the segment size (int).</summary>
    public const int UdpGro = 104;
    /// <summary>The kernel refuses more segments per send (UDP_MAX_SEGMENTS was 64 before 6.5; 64 is safe everywhere).</summary>
    public const int MaxSegments = 64;
    /// <summary>Largest UDP payload of one send, super-packet or not (65535 minus the IPv6 + UDP headers' worst case).</summary>
    public const int MaxSendBytes = 65535 - 8 - 40;

    public const int MsgDontWait = 0x40;
    public const int MsgTrunc = 0x20;

    public const int EAgain = 11, EIo = 5, EInval = 22, ENoBufs = 105, EConnRefused = 111, EMsgSize = 90, EIntr = 4,
        EPerm = 1, ENetUnreach = 101, EHostUnreach = 113, EAfNoSupport = 97, ENoSys = 38, EOpNotSupp = 95;

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

    /// <summary>CMSG_SPACE for a payload of up to 8 bytes: the header (16) plus the payload rounded up to 8.</summary>
    public const int SmallCMsgSpace = 24;
    /// <summary>CMSG_LEN: header plus payload, unpadded.</summary>
    public static nuint CMsgLength(int payload) => (nuint)(sizeof(CMsgHdr) + payload);

    [DllImport("libc", SetLastError = true)]
    public static extern int sendmmsg(int fd, MMsgHdr* messages, uint count, int flags);

    [DllImport("libc", SetLastError = true)]
    public static extern int recvmmsg(int fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    public static int LastError => Marshal.GetLastPInvokeError();
}
