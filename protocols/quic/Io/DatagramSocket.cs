using FastRelay.Net;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Io;

/// <summary>
/// A UDP socket that moves many datagrams per system call. Before it, each packet cost a sendto and each received
/// datagram an ioctl plus a recvfrom; with it the MoQ relay's CPU per egress byte about halved at 20 kB objects
/// (docs/benchmarks.md, "UDP batching").
/// <list type="bullet">
/// <item>Send: one sendmmsg per batch of a connection's datagrams; runs of equal-sized datagrams (the last may be
/// shorter) go as one UDP GSO super-packet (UDP_SEGMENT), which the kernel (or the NIC) cuts into ordinary datagrams.
/// A caller turns segmentation off per batch: the kernel fast path must see each packet on its own.</item>
/// <item>Receive: one recvmmsg (never blocking) fills up to <see cref="Slots"/> slots; with UDP GRO a slot may hold
/// several same-flow datagrams coalesced by the kernel, given with their segment size.</item>
/// </list>
/// Off Linux, or when the kernel lacks the calls, the managed Socket calls do the same one datagram at a time. When the
/// kernel refuses a segmented send, the datagrams of that send go again one by one; after EIO (a device that cannot
/// take it) or <see cref="MaxSegmentationRefusals"/> EINVALs in a row (e.g. SO_NO_CHECK) segmentation stays off for
/// this socket.
/// </summary>
public sealed unsafe class DatagramSocket : IDisposable
{
    /// <summary>Every slot takes the largest UDP payload (or GRO super-packet), so no datagram is ever truncated.</summary>
    public const int SlotSize = 65536;
    private const int NameSize = 128;      // sizeof(struct sockaddr_storage)
    private const int ControlSize = 128;   // room for UDP_GRO, IP_TOS and IPV6_TCLASS (24 bytes each) with margin: a truncated one would lose a mark
    /// <summary>EINVAL on a segmented send can be one oversized segment (a path MTU probe that led a run); only repeated refusals mean never.</summary>
    public const int MaxSegmentationRefusals = 3;

    private readonly Socket _socket;
    private readonly ILogger _log;
    private readonly byte[] _buffer;
    private readonly SocketAddress[] _sources;
    private readonly int[] _lengths;
    private readonly int[] _segmentSizes;
    private readonly byte[] _ecn;
    // Native receive descriptors in pinned arrays (never freed while the receive thread may still be in recvmmsg).
    private readonly LinuxSockets.MMsgHdr[] _messages;
    private readonly LinuxSockets.IoVec[] _vectors;
    private readonly byte[] _names;
    private readonly byte[] _controls;
    private bool _nativeReceive;
    private volatile bool _nativeSend;
    private volatile bool _segmentation;
    private int _segmentationRefusals;

    public DatagramSocket(Socket socket, int slots, bool enableSegmentation, bool enableReceiveCoalescing, ILogger log)
    {
        _socket = socket;
        _log = log;
        Slots = slots;
        _buffer = GC.AllocateUninitializedArray<byte>(slots * SlotSize, pinned: true);
        _sources = new SocketAddress[slots];
        for (int i = 0; i < slots; i++) _sources[i] = new SocketAddress(socket.AddressFamily);
        _lengths = new int[slots];
        _segmentSizes = new int[slots];
        _ecn = new byte[slots];
        _messages = GC.AllocateArray<LinuxSockets.MMsgHdr>(slots, pinned: true);
        _vectors = GC.AllocateArray<LinuxSockets.IoVec>(slots, pinned: true);
        _names = GC.AllocateArray<byte>(slots * NameSize, pinned: true);
        _controls = GC.AllocateArray<byte>(slots * ControlSize, pinned: true);
        _nativeReceive = _nativeSend = LinuxUdp.IsSupported;
        if (_nativeReceive)
        {
            var messages = (LinuxSockets.MMsgHdr*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_messages));
            var vectors = (LinuxSockets.IoVec*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_vectors));
            byte* buffer = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_buffer));
            byte* names = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_names));
            byte* controls = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_controls));
            for (int i = 0; i < slots; i++)
            {
                vectors[i] = new LinuxSockets.IoVec { Base = buffer + (long)i * SlotSize, Length = SlotSize };
                messages[i].Header = new LinuxSockets.MsgHdr { Name = names + i * NameSize, Iov = vectors + i, IovLength = 1, Control = controls + i * ControlSize };
            }
        }
        // Probing with the socket option: accepted (value 0 = no default segmentation) means the kernel knows UDP_SEGMENT.
        _segmentation = enableSegmentation && _nativeSend && TrySetUdpOption(LinuxUdp.UdpSegment, 0);
        ReceiveCoalescing = enableReceiveCoalescing && _nativeReceive && TrySetUdpOption(LinuxUdp.UdpGro, 1);
        // ECN: the kernel reports each datagram's TOS / traffic class (both for a dual-mode IPv6 socket: IPv4 peers come
        // with IP_TOS). Reading needs recvmmsg's control messages, marking needs sendmmsg's: native path only.
        if (_nativeReceive)
        {
            bool v6 = socket.AddressFamily == AddressFamily.InterNetworkV6;
            bool recv = v6 && TrySetOption(LinuxUdp.SolIpv6, LinuxUdp.Ipv6RecvTclass, 1);
            if (!v6 || socket.DualMode) recv |= TrySetOption(LinuxUdp.SolIp, LinuxUdp.IpRecvTos, 1);
            ReadsEcn = recv;
        }
    }

    /// <summary>Received datagrams carry their ECN codepoint (<see cref="Received"/>); false: always reported 0 (Not-ECT).</summary>
    public bool ReadsEcn { get; }
    /// <summary>Sends can carry an ECN codepoint (<see cref="SendBatch"/>'s ecn); false: it is ignored.</summary>
    public bool MarksEcn => _nativeSend;

    private bool TrySetOption(int level, int option, int value)
    {
        try
        {
            _socket.SetRawSocketOption(level, option, BitConverter.GetBytes(value));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;
    /// <summary>Receive slots (datagrams or GRO super-packets per <see cref="Receive"/>).</summary>
    public int Slots { get; }
    /// <summary>Segmented sends are on for this socket (requested, supported, and never refused by the kernel).</summary>
    public bool SegmentationOffload => _segmentation;
    /// <summary>The kernel may hand several same-flow datagrams in one slot (UDP GRO).</summary>
    public bool ReceiveCoalescing { get; }

    // Counters for tests and diagnostics: system calls made, and super-packets among the messages sent.
    private long _sendCalls, _segmentedMessages, _receiveCalls;
    public long SendCalls => Interlocked.Read(ref _sendCalls);
    public long SegmentedMessages => Interlocked.Read(ref _segmentedMessages);
    public long ReceiveCalls => Interlocked.Read(ref _receiveCalls);
    public DatagramSocketStatistics Statistics => new(SendCalls, SegmentedMessages, ReceiveCalls, SegmentationOffload, ReceiveCoalescing);

    private bool TrySetUdpOption(int option, int value)
    {
        try
        {
            _socket.SetRawSocketOption(LinuxUdp.SolUdp, option, BitConverter.GetBytes(value));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    // ---------------------------------------------------------------- receive

    /// <summary>
    /// Reads what is queued, without blocking: the number of slots filled (0: nothing, or an error worth no more than a
    /// lost datagram). Slot i holds <see cref="Received"/>(i) from <see cref="Source"/>(i), valid until the next call.
    /// </summary>
    public int Receive()
    {
        Interlocked.Increment(ref _receiveCalls);
        return _nativeReceive ? ReceiveNative() : ReceiveManaged();
    }

    /// <summary>
    /// Slot i: the bytes received, the size of each datagram in it (GRO), or 0 when it is one datagram, and the ECN
    /// codepoint of its IP header (0-3; the same for every GRO segment: the kernel coalesces only equal TOS).
    /// </summary>
    public (Memory<byte> Data, int SegmentSize, byte Ecn) Received(int slot) => (_buffer.AsMemory(slot * SlotSize, _lengths[slot]), _segmentSizes[slot], _ecn[slot]);

    public SocketAddress Source(int slot) => _sources[slot];

    private int ReceiveNative()
    {
        var messages = (LinuxSockets.MMsgHdr*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_messages));
        for (int i = 0; i < Slots; i++)
        {
            messages[i].Header.NameLength = NameSize;
            messages[i].Header.ControlLength = ControlSize;
            messages[i].Header.Flags = 0;
            messages[i].Length = 0;
        }
        int n;
        bool added = false;
        try
        {
            _socket.SafeHandle.DangerousAddRef(ref added);
            n = LinuxSockets.recvmmsg((int)_socket.SafeHandle.DangerousGetHandle(), messages, (uint)Slots, LinuxSockets.MsgDontWait, null);
        }
        finally
        {
            if (added) _socket.SafeHandle.DangerousRelease();
        }
        if (n < 0)
        {
            int errno = LinuxUdp.LastError;
            if (errno is LinuxUdp.ENoSys or LinuxUdp.EOpNotSupp)
            {
                _nativeReceive = false;
                return ReceiveManaged();
            }
            // EAGAIN: nothing queued. ECONNREFUSED and the like: an ICMP error reported once; the next read goes on.
            return 0;
        }
        int filled = 0;
        for (int i = 0; i < n; i++)
        {
            ref var message = ref messages[i];
            // Truncated (cannot happen with 64 KiB slots, but a hostile length must never be taken on trust): dropped.
            if ((message.Header.Flags & LinuxSockets.MsgTrunc) != 0 || message.Length > SlotSize) continue;
            if (filled != i) Buffer.MemoryCopy((byte*)message.Header.Iov->Base, (byte*)messages[filled].Header.Iov->Base, SlotSize, message.Length);
            _lengths[filled] = (int)message.Length;
            _segmentSizes[filled] = ReadControl(message.Header, out _ecn[filled]);
            var source = _sources[filled];
            int nameLength = (int)Math.Min(message.Header.NameLength, (uint)source.Buffer.Length);
            new ReadOnlySpan<byte>(message.Header.Name, nameLength).CopyTo(source.Buffer.Span);
            source.Size = nameLength;
            filled++;
        }
        return filled;
    }

    /// <summary>
    /// The UDP_GRO control message's segment size, or 0 (one datagram), and the ECN bits of IP_TOS (1 byte) or
    /// IPV6_TCLASS (an int). Bounded walk of what the kernel wrote.
    /// </summary>
    private static int ReadControl(in LinuxSockets.MsgHdr header, out byte ecn)
    {
        ecn = 0;
        int segmentSize = 0;
        byte* control = (byte*)header.Control;
        nuint length = Math.Min(header.ControlLength, (nuint)ControlSize);
        nuint offset = 0;
        nuint head = (nuint)sizeof(LinuxSockets.CMsgHdr);
        while (offset + head <= length)
        {
            var cmsg = (LinuxSockets.CMsgHdr*)(control + offset);
            if (cmsg->Length < head || cmsg->Length > length - offset) break;
            byte* data = control + offset + head;
            nuint payload = cmsg->Length - head;
            if (cmsg->Level == LinuxUdp.SolUdp && cmsg->Type == LinuxUdp.UdpGro && payload >= 4) segmentSize = *(int*)data;
            else if (cmsg->Level == LinuxUdp.SolIp && cmsg->Type == LinuxUdp.IpTos && payload >= 1) ecn = (byte)(*data & 0x03);
            else if (cmsg->Level == LinuxUdp.SolIpv6 && cmsg->Type == LinuxUdp.Ipv6Tclass && payload >= 4) ecn = (byte)(*(int*)data & 0x03);
            offset += (cmsg->Length + 7) & ~(nuint)7;
        }
        return segmentSize;
    }

    private int ReceiveManaged()
    {
        int filled = 0;
        while (filled < Slots)
        {
            try
            {
                // After the first, read only what is already queued: the caller owns timers and must not block.
                if (filled > 0 && _socket.Available == 0) break;
                _lengths[filled] = _socket.ReceiveFrom(_buffer.AsSpan(filled * SlotSize, SlotSize), SocketFlags.None, _sources[filled]);
                _segmentSizes[filled] = 0;
                _ecn[filled] = 0;
                filled++;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.WouldBlock or SocketError.MessageSize)
            {
                break;
            }
        }
        return filled;
    }

    // ---------------------------------------------------------------- send

    public void Send(ReadOnlySpan<byte> datagram, SocketAddress to)
    {
        Interlocked.Increment(ref _sendCalls);
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, to);
        }
        // MessageSize: a path MTU probe larger than the interface allows (DF is set) is simply lost.
        catch (SocketException e) when (e.SocketErrorCode is SocketError.NoBufferSpaceAvailable or SocketError.WouldBlock or SocketError.ConnectionRefused
                                       or SocketError.MessageSize or SocketError.NetworkUnreachable or SocketError.HostUnreachable)
        {
            // UDP: a datagram the kernel could not take is a lost packet; recovery resends.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Most datagrams one <see cref="SendBatch"/> takes.</summary>
    public const int MaxBatch = 64;

    /// <summary>
    /// Sends the datagrams laid end to end in <paramref name="buffer"/> (lengths in <paramref name="lengths"/>, at most
    /// <see cref="MaxBatch"/>) to one address, in order. With <paramref name="allowSegmentation"/> and segmentation on,
    /// runs of equal-sized datagrams go as one super-packet each; otherwise each datagram is its own message.
    /// <paramref name="ecn"/> (0-3) is written into each datagram's IP header (a control message per message, so each
    /// connection of a shared socket marks or not on its own; RFC 9000 §13.4.2); the managed fallback sends Not-ECT.
    /// </summary>
    public void SendBatch(ReadOnlySpan<byte> buffer, ReadOnlySpan<int> lengths, SocketAddress to, bool allowSegmentation, byte ecn = 0)
    {
        if (lengths.Length > MaxBatch) throw new ArgumentOutOfRangeException(nameof(lengths));
        if (lengths.Length == 0) return;
        if (!_nativeSend || lengths.Length == 1 && ecn == 0)
        {
            int offset = 0;
            foreach (int length in lengths)
            {
                Send(buffer.Slice(offset, length), to);
                offset += length;
            }
            return;
        }
        SendNative(buffer, lengths, to, allowSegmentation && _segmentation, (byte)(ecn & 0x03));
    }

    /// <summary>Per message: room for UDP_SEGMENT and the TOS / traffic class control message.</summary>
    private const int SendControlSpace = 2 * LinuxSockets.SmallCMsgSpace;

    private void SendNative(ReadOnlySpan<byte> buffer, ReadOnlySpan<int> lengths, SocketAddress to, bool segment, byte ecn)
    {
        var messages = stackalloc LinuxSockets.MMsgHdr[MaxBatch];
        var vectors = stackalloc LinuxSockets.IoVec[MaxBatch];
        byte* controls = stackalloc byte[MaxBatch * SendControlSpace];
        // IPv4 destinations (also IPv4-mapped ones on a dual-mode IPv6 socket: the kernel sends those through its IPv4
        // path, which reads only SOL_IP control messages) take IP_TOS, IPv6 ones IPV6_TCLASS.
        bool ipv4Header = to.Family == AddressFamily.InterNetwork || IsV4Mapped(to);
        // Per message: the first datagram and how many it carries (to resend them one by one if segmentation is refused).
        int* firstDatagram = stackalloc int[MaxBatch + 1];
        bool* segmentedRun = stackalloc bool[MaxBatch];
        int* datagramOffset = stackalloc int[MaxBatch + 1];
        fixed (byte* data = buffer)
        fixed (byte* name = to.Buffer.Span)
        {
            int count = 0, offset = 0;
            for (int i = 0; i < lengths.Length; i++) { datagramOffset[i] = offset; offset += lengths[i]; }
            datagramOffset[lengths.Length] = offset;
            for (int i = 0; i < lengths.Length;)
            {
                int size = lengths[i], run = 1, bytes = size;
                if (segment)
                {
                    // Equal segments; a shorter one may end the run (the kernel's rule for the last segment).
                    while (i + run < lengths.Length && run < LinuxUdp.MaxSegments && bytes + lengths[i + run] <= LinuxUdp.MaxSendBytes
                           && lengths[i + run] <= size)
                    {
                        bytes += lengths[i + run];
                        bool shorter = lengths[i + run] < size;
                        run++;
                        if (shorter) break;
                    }
                }
                vectors[count] = new LinuxSockets.IoVec { Base = data + datagramOffset[i], Length = (nuint)bytes };
                messages[count] = new LinuxSockets.MMsgHdr
                {
                    Header = new LinuxSockets.MsgHdr { Name = name, NameLength = (uint)to.Size, Iov = vectors + count, IovLength = 1 },
                };
                if (run > 1 || ecn != 0)
                {
                    byte* control = controls + count * SendControlSpace;
                    new Span<byte>(control, SendControlSpace).Clear();
                    int used = 0;
                    if (run > 1)
                    {
                        var cmsg = (LinuxSockets.CMsgHdr*)control;
                        cmsg->Length = LinuxSockets.CMsgLength(sizeof(ushort));
                        cmsg->Level = LinuxUdp.SolUdp;
                        cmsg->Type = LinuxUdp.UdpSegment;
                        *(ushort*)(control + sizeof(LinuxSockets.CMsgHdr)) = (ushort)size;
                        used += LinuxSockets.SmallCMsgSpace;
                    }
                    if (ecn != 0)
                    {
                        var cmsg = (LinuxSockets.CMsgHdr*)(control + used);
                        cmsg->Length = LinuxSockets.CMsgLength(sizeof(int));
                        cmsg->Level = ipv4Header ? LinuxUdp.SolIp : LinuxUdp.SolIpv6;
                        cmsg->Type = ipv4Header ? LinuxUdp.IpTos : LinuxUdp.Ipv6Tclass;
                        *(int*)(control + used + sizeof(LinuxSockets.CMsgHdr)) = ecn;
                        used += LinuxSockets.SmallCMsgSpace;
                    }
                    messages[count].Header.Control = control;
                    messages[count].Header.ControlLength = (nuint)used;
                }
                segmentedRun[count] = run > 1;
                firstDatagram[count] = i;
                count++;
                i += run;
            }
            firstDatagram[count] = lengths.Length;

            int done = 0;
            while (done < count)
            {
                if (SendMessages(messages + done, count - done) is not { } sent) return;
                if (sent > 0)
                {
                    for (int m = done; m < done + sent; m++)
                        if (segmentedRun[m]) Interlocked.Increment(ref _segmentedMessages);
                    if (segment) Volatile.Write(ref _segmentationRefusals, 0);
                    done += sent;
                    continue;
                }
                int errno = LinuxUdp.LastError;
                if (errno == LinuxUdp.EIntr) continue;
                if (segmentedRun[done] && errno is LinuxUdp.EIo or LinuxUdp.EInval)
                {
                    RefuseSegmentation(errno);
                    // This message's datagrams one by one (they are consecutive in the buffer).
                    int first = firstDatagram[done], end = firstDatagram[done + 1];
                    SendNative(buffer[datagramOffset[first]..datagramOffset[end]], lengths[first..end], to, segment: false, ecn);
                    done++;
                    continue;
                }
                // A datagram the kernel would not take (full buffer, ICMP error, too big for the path) is a lost packet:
                // recovery resends. Anything else (a closed socket) ends the batch.
                if (errno is LinuxUdp.EAgain or LinuxUdp.ENoBufs or LinuxUdp.EConnRefused or LinuxUdp.EMsgSize or LinuxUdp.EPerm
                    or LinuxUdp.ENetUnreach or LinuxUdp.EHostUnreach)
                {
                    done++;
                    continue;
                }
                if (errno is LinuxUdp.ENoSys or LinuxUdp.EOpNotSupp)
                {
                    _nativeSend = false;
                    int first = firstDatagram[done];
                    SendBatch(buffer[datagramOffset[first]..], lengths[first..], to, allowSegmentation: false);
                }
                return;
            }
        }
    }

    /// <summary>
    /// Sends the datagrams laid end to end in <paramref name="buffer"/> (at most <see cref="MaxBatch"/>), datagram i to
    /// <paramref name="to"/>[i] with ECN codepoint <paramref name="ecn"/>[i], in order and in one sendmmsg: the datagrams
    /// of several connections sharing this socket (<see cref="SendCoalescing"/>). Never segmented. What the kernel would
    /// not take is a lost datagram, as in <see cref="SendBatch"/>.
    /// </summary>
    public void SendEach(ReadOnlySpan<byte> buffer, ReadOnlySpan<int> lengths, ReadOnlySpan<SocketAddress> to, ReadOnlySpan<byte> ecn)
    {
        if (lengths.Length > MaxBatch) throw new ArgumentOutOfRangeException(nameof(lengths));
        if (to.Length != lengths.Length || ecn.Length != lengths.Length) throw new ArgumentException("one address and one ECN codepoint per datagram");
        if (lengths.Length == 0) return;
        if (!_nativeSend || lengths.Length == 1)
        {
            int at = 0;
            for (int i = 0; i < lengths.Length; i++)
            {
                SendBatch(buffer.Slice(at, lengths[i]), lengths.Slice(i, 1), to[i], allowSegmentation: false, ecn[i]);
                at += lengths[i];
            }
            return;
        }
        var messages = stackalloc LinuxSockets.MMsgHdr[MaxBatch];
        var vectors = stackalloc LinuxSockets.IoVec[MaxBatch];
        byte* controls = stackalloc byte[MaxBatch * SendControlSpace];
        byte* names = stackalloc byte[MaxBatch * NameSize];
        fixed (byte* data = buffer)
        {
            int offset = 0;
            for (int i = 0; i < lengths.Length; i++)
            {
                var address = to[i];
                if (address.Size > NameSize) throw new ArgumentException($"address {i} is {address.Size} bytes");
                address.Buffer.Span[..address.Size].CopyTo(new Span<byte>(names + i * NameSize, NameSize));
                vectors[i] = new LinuxSockets.IoVec { Base = data + offset, Length = (nuint)lengths[i] };
                messages[i] = new LinuxSockets.MMsgHdr
                {
                    Header = new LinuxSockets.MsgHdr { Name = names + i * NameSize, NameLength = (uint)address.Size, Iov = vectors + i, IovLength = 1 },
                };
                byte mark = (byte)(ecn[i] & 0x03);
                if (mark != 0)
                {
                    bool ipv4Header = address.Family == AddressFamily.InterNetwork || IsV4Mapped(address);
                    byte* control = controls + i * SendControlSpace;
                    new Span<byte>(control, SendControlSpace).Clear();
                    var cmsg = (LinuxSockets.CMsgHdr*)control;
                    cmsg->Length = LinuxSockets.CMsgLength(sizeof(int));
                    cmsg->Level = ipv4Header ? LinuxUdp.SolIp : LinuxUdp.SolIpv6;
                    cmsg->Type = ipv4Header ? LinuxUdp.IpTos : LinuxUdp.Ipv6Tclass;
                    *(int*)(control + sizeof(LinuxSockets.CMsgHdr)) = mark;
                    messages[i].Header.Control = control;
                    messages[i].Header.ControlLength = (nuint)LinuxSockets.SmallCMsgSpace;
                }
                offset += lengths[i];
            }
            int done = 0, count = lengths.Length;
            while (done < count)
            {
                if (SendMessages(messages + done, count - done) is not { } sent) return;
                if (sent > 0)
                {
                    done += sent;
                    continue;
                }
                int errno = LinuxUdp.LastError;
                if (errno == LinuxUdp.EIntr) continue;
                // This datagram is lost (recovery resends it); the others still go.
                if (errno is LinuxUdp.EAgain or LinuxUdp.ENoBufs or LinuxUdp.EConnRefused or LinuxUdp.EMsgSize or LinuxUdp.EPerm
                    or LinuxUdp.ENetUnreach or LinuxUdp.EHostUnreach or LinuxUdp.EInval)
                {
                    done++;
                    continue;
                }
                if (errno is LinuxUdp.ENoSys or LinuxUdp.EOpNotSupp)
                {
                    _nativeSend = false;
                    int at = (int)((byte*)messages[done].Header.Iov->Base - data);
                    SendEach(buffer[at..], lengths[done..], to[done..], ecn[done..]);
                }
                return; // or a closed socket
            }
        }
    }

    /// <summary>One sendmmsg of <paramref name="count"/> messages: how many the kernel took (errno in LinuxUdp.LastError
    /// when not positive), or null when the socket was disposed meanwhile.</summary>
    private int? SendMessages(LinuxSockets.MMsgHdr* messages, int count)
    {
        bool added = false;
        try
        {
            _socket.SafeHandle.DangerousAddRef(ref added);
            Interlocked.Increment(ref _sendCalls);
            return LinuxSockets.sendmmsg((int)_socket.SafeHandle.DangerousGetHandle(), messages, (uint)count, 0);
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
        finally
        {
            if (added) _socket.SafeHandle.DangerousRelease();
        }
    }

    private void RefuseSegmentation(int errno)
    {
        if (!_segmentation) return;
        if (errno == LinuxUdp.EIo || Interlocked.Increment(ref _segmentationRefusals) >= MaxSegmentationRefusals)
        {
            _segmentation = false;
            _log.LogInformation("UDP segmentation offload refused by the kernel (errno {Errno}): sending datagrams one by one on {Local}", errno,
                _socket.LocalEndPoint);
        }
    }

    /// <summary>An AF_INET6 sockaddr holding ::ffff:a.b.c.d (sin6_addr at offset 8).</summary>
    private static bool IsV4Mapped(SocketAddress address)
    {
        if (address.Family != AddressFamily.InterNetworkV6 || address.Size < 24) return false;
        var a = address.Buffer.Span.Slice(8, 16);
        return a[..10].IndexOfAnyExcept((byte)0) < 0 && a[10] == 0xff && a[11] == 0xff;
    }

    public void Dispose() => _socket.Dispose();
}
