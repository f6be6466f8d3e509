using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using static FastRelay.Net.LinuxSockets;

namespace FastRelay.Relay;

/// <summary>
/// Copies of one datagram to many destinations in one sendmmsg(2): each copy is its own header (the bytes a subscriber's
/// copy differs in: packet number, connection id, stream id) plus the shared rest, so the rest is never copied and a
/// fan-out of N costs one system call, not N. All native memory is allocated once, for the largest fan-out and the
/// longest header; adding a copy allocates nothing.
/// </summary>
internal sealed unsafe class SendBatch : IDisposable
{
    private const int AddressBytes = 28; // sockaddr_in6, which also holds an IPv4-mapped destination

    private readonly Socket _socket;
    private readonly int _capacity;
    private readonly int _headerBytes;
    private readonly byte* _headers;
    private readonly byte* _addresses;
    private readonly IoVec* _iov;
    private readonly MMsgHdr* _messages;
    private int _count;

    /// <param name="headerBytes">The longest per-copy header <see cref="Add"/> is given.</param>
    public SendBatch(Socket socket, int capacity, int headerBytes)
    {
        _socket = socket;
        _capacity = Math.Max(1, capacity);
        _headerBytes = Math.Max(1, headerBytes);
        capacity = _capacity;
        _headers = (byte*)NativeMemory.AllocZeroed((nuint)(capacity * _headerBytes));
        _addresses = (byte*)NativeMemory.AllocZeroed((nuint)(capacity * AddressBytes));
        _iov = (IoVec*)NativeMemory.AllocZeroed((nuint)(capacity * 2 * sizeof(IoVec)));
        _messages = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(capacity * sizeof(MMsgHdr)));
    }

    /// <summary>Queues one copy: <paramref name="header"/> (at most the header length given at construction) is copied,
    /// the rest is the shared <paramref name="payload"/>, which must stay pinned until <see cref="Send"/>.</summary>
    public void Add(ReadOnlySpan<byte> header, byte* payload, int payloadLength, SocketAddress destination)
    {
        if (_count == _capacity)
            Send();
        var i = _count++;
        var h = _headers + i * _headerBytes;
        header.CopyTo(new Span<byte>(h, _headerBytes));
        var name = _addresses + i * AddressBytes;
        var size = Math.Min(destination.Size, AddressBytes);
        destination.Buffer.Span[..size].CopyTo(new Span<byte>(name, size));
        _iov[2 * i] = new IoVec { Base = h, Length = (nuint)header.Length };
        _iov[2 * i + 1] = new IoVec { Base = payload, Length = (nuint)payloadLength };
        _messages[i] = new MMsgHdr
        {
            Header = new MsgHdr { Name = name, NameLength = (uint)size, Iov = _iov + 2 * i, IovLength = 2 },
        };
    }

    /// <summary>Sends everything queued; returns how many copies the kernel took (a full socket buffer drops the rest,
    /// as a plain sendto would).</summary>
    public int Send()
    {
        var sent = 0;
        var fd = (int)_socket.SafeHandle.DangerousGetHandle();
        while (sent < _count)
        {
            var n = sendmmsg(fd, _messages + sent, (uint)(_count - sent), 0);
            if (n <= 0)
                break;
            sent += n;
        }
        _count = 0;
        return sent;
    }

    private int _disposed;

    /// <summary>Frees the native buffers once: a second Dispose (a using plus an explicit call, a relay stopping twice)
    /// must not hand the same blocks to free(3) again.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        NativeMemory.Free(_headers);
        NativeMemory.Free(_addresses);
        NativeMemory.Free(_iov);
        NativeMemory.Free(_messages);
    }
}
