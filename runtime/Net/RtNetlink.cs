using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FastRelay.Bpf.Native;

namespace FastRelay.Net;

/// <summary>
/// A NETLINK_ROUTE socket for request/response exchanges (one RTM_GET* answer, or a dump) in the calling
/// thread's network namespace. Messages are built and parsed as bytes: nlmsghdr (16) + family header + rtattrs.
/// </summary>
internal sealed unsafe class RtNetlink : IDisposable
{
    internal const ushort NLMSG_ERROR = 2, NLMSG_DONE = 3;
    internal const ushort NLM_F_REQUEST = 1, NLM_F_DUMP = 0x300;
    internal const ushort RTM_NEWLINK = 16, RTM_GETLINK = 18, RTM_NEWROUTE = 24, RTM_GETROUTE = 26, RTM_NEWNEIGH = 28, RTM_GETNEIGH = 30;
    private const int HeaderSize = 16;

    private readonly OwnedFd _fd;
    private uint _seq;

    private RtNetlink(OwnedFd fd) => _fd = fd;

    public static RtNetlink Open()
    {
        int fd = LibC.socket(LibC.AF_NETLINK, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, LibC.NETLINK_ROUTE);
        if (fd < 0) throw Errno("socket(AF_NETLINK, NETLINK_ROUTE)");
        var handle = new OwnedFd(fd);
        // Two seconds is far beyond any kernel answer; it only guards against a hang.
        long* tv = stackalloc long[2] { 2, 0 };
        LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_RCVTIMEO, tv, 16);
        int one = 1;
        LibC.setsockopt(fd, LibC.SOL_NETLINK, LibC.NETLINK_EXT_ACK, &one, 4); // best effort: error text
        byte* sa = stackalloc byte[12]; // sockaddr_nl: family, pad, pid 0 (kernel assigns), groups 0
        new Span<byte>(sa, 12).Clear();
        *(ushort*)sa = LibC.AF_NETLINK;
        if (LibC.bind(fd, sa, 12) != 0)
        {
            var e = Errno("bind(netlink)");
            handle.Dispose();
            throw e;
        }
        return new RtNetlink(handle);
    }

    /// <summary>Sends <paramref name="type"/> with the family header and attributes, returns the single reply's
    /// payload (after nlmsghdr) and type. A kernel error becomes <see cref="NetlinkException"/>.</summary>
    public (ushort Type, byte[] Payload) Request(ushort type, ReadOnlySpan<byte> familyHeader, params (ushort Type, byte[] Value)[] attributes)
    {
        (ushort, byte[])? answer = null;
        Exchange(Message(type, NLM_F_REQUEST, familyHeader, attributes, out var seq), seq, (mtype, payload) =>
        {
            if (mtype == NLMSG_ERROR)
            {
                int error = BinaryPrimitives.ReadInt32LittleEndian(payload);
                if (error == 0) throw new IOException("netlink acknowledged without an answer");
                throw new NetlinkException(-error, ExtAckMessage(payload));
            }
            if (mtype == NLMSG_DONE) return false;
            answer = (mtype, payload.ToArray());
            return true;
        });
        return answer!.Value;
    }

    /// <summary>Sends a dump request (NLM_F_DUMP) and returns every reply message's type and payload (after nlmsghdr) up
    /// to NLMSG_DONE. A kernel error becomes <see cref="NetlinkException"/>.</summary>
    public List<(ushort Type, byte[] Payload)> Dump(ushort type, ReadOnlySpan<byte> familyHeader)
    {
        var replies = new List<(ushort, byte[])>();
        Exchange(Message(type, NLM_F_REQUEST | NLM_F_DUMP, familyHeader, [], out var seq), seq, (mtype, payload) =>
        {
            if (mtype == NLMSG_DONE) return true;
            if (mtype == NLMSG_ERROR)
            {
                int error = BinaryPrimitives.ReadInt32LittleEndian(payload);
                if (error != 0) throw new NetlinkException(-error, ExtAckMessage(payload));
            }
            else
                replies.Add((mtype, payload.ToArray()));
            return false;
        });
        return replies;
    }

    private delegate bool ReplyHandler(ushort type, ReadOnlySpan<byte> payload);

    /// <summary>nlmsghdr + family header + attributes, with the next sequence number.</summary>
    private byte[] Message(ushort type, ushort flags, ReadOnlySpan<byte> familyHeader, (ushort Type, byte[] Value)[] attributes, out uint seq)
    {
        int len = HeaderSize + Align(familyHeader.Length) + attributes.Sum(a => Align(4 + a.Value.Length));
        var msg = new byte[len];
        seq = ++_seq;
        BinaryPrimitives.WriteUInt32LittleEndian(msg.AsSpan(0), (uint)len);
        BinaryPrimitives.WriteUInt16LittleEndian(msg.AsSpan(4), type);
        BinaryPrimitives.WriteUInt16LittleEndian(msg.AsSpan(6), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(msg.AsSpan(8), seq);
        familyHeader.CopyTo(msg.AsSpan(HeaderSize));
        int off = HeaderSize + Align(familyHeader.Length);
        foreach (var (t, v) in attributes)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(msg.AsSpan(off), (ushort)(4 + v.Length));
            BinaryPrimitives.WriteUInt16LittleEndian(msg.AsSpan(off + 2), t);
            v.CopyTo(msg.AsSpan(off + 4));
            off += Align(4 + v.Length);
        }
        return msg;
    }

    /// <summary>Sends <paramref name="msg"/> and hands every reply with its sequence number to <paramref name="onReply"/>
    /// until it returns true (messages of other sequence numbers, e.g. a late answer to a timed-out request, are skipped).
    /// The socket's receive timeout bounds each wait.</summary>
    private void Exchange(byte[] msg, uint seq, ReplyHandler onReply)
    {
        bool added = false;
        _fd.DangerousAddRef(ref added);
        try
        {
            int fd = _fd.Fd;
            fixed (byte* p = msg)
                if (LibC.send(fd, p, (nuint)msg.Length, 0) < 0) throw Errno("send(netlink)");

            var buf = new byte[64 * 1024];
            while (true)
            {
                nint n;
                fixed (byte* p = buf) n = LibC.recv(fd, p, (nuint)buf.Length, 0);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == LibC.EINTR) continue;
                    throw Errno("recv(netlink)", errno);
                }
                for (int at = 0; at + HeaderSize <= n;)
                {
                    int mlen = (int)BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(at));
                    ushort mtype = BinaryPrimitives.ReadUInt16LittleEndian(buf.AsSpan(at + 4));
                    uint mseq = BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(at + 8));
                    if (mlen < HeaderSize || at + mlen > n) throw new IOException("malformed netlink message");
                    if (mseq == seq && onReply(mtype, buf.AsSpan(at + HeaderSize, mlen - HeaderSize))) return;
                    at += Align(mlen);
                }
            }
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    /// <summary>NLMSGERR_ATTR_MSG (1) after the echoed request header, when the kernel sent extended acks.</summary>
    private static string? ExtAckMessage(ReadOnlySpan<byte> errPayload)
    {
        if (errPayload.Length < 4 + HeaderSize) return null;
        int echoed = (int)BinaryPrimitives.ReadUInt32LittleEndian(errPayload[4..]);
        // NLM_F_CAPPED (0x100) in the echoed header's flags: only the header was echoed.
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(errPayload[(4 + 6)..]);
        int skip = 4 + ((flags & 0x100) != 0 ? HeaderSize : Align(echoed));
        if (skip > errPayload.Length) return null;
        foreach (var (t, v) in Attributes(errPayload[skip..]))
            if (t == 1) return System.Text.Encoding.UTF8.GetString(v.TrimEnd((byte)0));
        return null;
    }

    /// <summary>rtattrs (type with NLA flags masked off, value).</summary>
    public static List<(ushort Type, byte[] Value)> Attributes(ReadOnlySpan<byte> data)
    {
        var list = new List<(ushort, byte[])>();
        for (int at = 0; at + 4 <= data.Length;)
        {
            int len = BinaryPrimitives.ReadUInt16LittleEndian(data[at..]);
            ushort type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(data[(at + 2)..]) & 0x3fff);
            if (len < 4 || at + len > data.Length) break;
            list.Add((type, data.Slice(at + 4, len - 4).ToArray()));
            at += Align(len);
        }
        return list;
    }

    public static int Align(int n) => (n + 3) & ~3;

    private static IOException Errno(string what, int errno = -1)
    {
        if (errno < 0) errno = Marshal.GetLastPInvokeError();
        return new IOException($"{what} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
    }

    public void Dispose() => _fd.Dispose();
}

/// <summary>The kernel answered a netlink request with an error.</summary>
public sealed class NetlinkException(int errno, string? kernelMessage)
    : IOException($"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})" + (kernelMessage is null ? "" : $": {kernelMessage}"))
{
    public int Errno { get; } = errno;
    public string? KernelMessage { get; } = kernelMessage;
}
