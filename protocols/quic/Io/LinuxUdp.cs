namespace FastRelay.Protocols.Quic.Io;

/// <summary>
/// The UDP segmentation offload control messages (UDP_SEGMENT on send, UDP_GRO on receive) and the errors the endpoint
/// tells apart; the calls and structures themselves are <see cref="FastRelay.Net.LinuxSockets"/>. Layouts are the 64-bit Linux ABI
/// (x86-64 and arm64 agree); <see cref="IsSupported"/> is false elsewhere and callers use the managed Socket calls.
/// </summary>
internal static class LinuxUdp
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

    // ECN (RFC 3168 codepoints in the low two bits of the IPv4 TOS / IPv6 traffic class; RFC 9000 §13.4).
    public const int SolIp = 0, IpTos = 1, IpRecvTos = 13;
    public const int SolIpv6 = 41, Ipv6RecvTclass = 66, Ipv6Tclass = 67;

    public const int EAgain = 11, EIo = 5, EInval = 22, ENoBufs = 105, EConnRefused = 111, EMsgSize = 90, EIntr = 4,
        EPerm = 1, ENetUnreach = 101, EHostUnreach = 113, EAfNoSupport = 97, ENoSys = 38, EOpNotSupp = 95;

    public static int LastError => FastRelay.Net.LinuxSockets.LastError;
}
