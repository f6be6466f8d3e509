using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using static FastRelay.Net.LinuxSockets;

namespace FastRelay.Net;

/// <summary>
/// Drains a UDP socket with recvmmsg(2): up to <see cref="Capacity"/> datagrams per system call into preallocated
/// buffers, each with its sender as a reusable <see cref="SocketAddress"/>. Waiting is a poll(2) with a timeout, so the
/// receive loop can notice cancellation. Nothing is allocated per datagram.
/// </summary>
public sealed unsafe class ReceiveBatch : IDisposable
{
    public const int Capacity = 64;
    private const int DatagramBytes = 65536;
    private const int AddressBytes = 128; // sockaddr_storage

    private readonly Socket _socket;
    private readonly byte[] _data = GC.AllocateArray<byte>(Capacity * DatagramBytes, pinned: true);
    private readonly byte* _names = (byte*)NativeMemory.AllocZeroed(Capacity * AddressBytes);
    private readonly IoVec* _iov = (IoVec*)NativeMemory.AllocZeroed((nuint)(Capacity * sizeof(IoVec)));
    private readonly MMsgHdr* _messages = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(Capacity * sizeof(MMsgHdr)));
    private readonly SocketAddress[] _senders;

    public ReceiveBatch(Socket socket)
    {
        _socket = socket;
        _senders = Enumerable.Range(0, Capacity).Select(_ => new SocketAddress(socket.AddressFamily, AddressBytes)).ToArray();
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for data; true when something can be read.</summary>
    public bool Wait(int timeoutMs)
    {
        var fd = new PollFd { Fd = Fd, Events = PollIn };
        return poll(&fd, 1, timeoutMs) > 0;
    }

    /// <summary>Reads what is queued, without blocking; returns the number of datagrams (0 when none).</summary>
    public int Receive()
    {
        fixed (byte* data = _data)
        {
            for (var i = 0; i < Capacity; i++)
            {
                _iov[i] = new IoVec { Base = data + i * DatagramBytes, Length = DatagramBytes };
                _messages[i] = new MMsgHdr
                {
                    Header = new MsgHdr { Name = _names + i * AddressBytes, NameLength = AddressBytes, Iov = _iov + i, IovLength = 1 },
                };
            }
            var n = recvmmsg(Fd, _messages, Capacity, MsgDontWait, null);
            return n < 0 ? 0 : n;
        }
    }

    /// <summary>The i-th datagram of the last <see cref="Receive"/>.</summary>
    public ReadOnlySpan<byte> Datagram(int i) => _data.AsSpan(i * DatagramBytes, (int)_messages[i].Length);

    /// <summary>The i-th datagram's sender (a reused object: copy it before keeping it).</summary>
    public SocketAddress Sender(int i)
    {
        var address = _senders[i];
        var size = (int)_messages[i].Header.NameLength;
        new ReadOnlySpan<byte>(_names + i * AddressBytes, size).CopyTo(address.Buffer.Span);
        address.Size = size;
        return address;
    }

    private int Fd => (int)_socket.SafeHandle.DangerousGetHandle();

    private int _disposed;

    /// <summary>Frees the native buffers once: a second Dispose must not hand the same blocks to free(3) again.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        NativeMemory.Free(_names);
        NativeMemory.Free(_iov);
        NativeMemory.Free(_messages);
    }
}
