using System.Net;

namespace FastRelay.Protocols.Quic.Io;

/// <summary>
/// Datagrams that connections send on this thread while the scope is open are kept and go out when it ends, in one
/// sendmmsg per socket with each datagram to its own address (<see cref="DatagramSocket.SendEach"/>). The fast-path
/// relay opens one around work that makes every subscriber connection send one small packet (each subgroup's header on
/// each subscriber's stream): at fan-out 64 those were two thirds of the relay's sendmsg calls, one per connection.
/// <para>
/// Only connections whose 1-RTT packet numbers are written at egress (the kernel fast path's clear-text numbering,
/// <c>QuicConnectionCore.IsExternallyNumbered</c> without sealing) hand their datagrams here. For them a kept datagram
/// takes its number when it really leaves, so it can never arrive after a higher-numbered packet of its own connection.
/// Any other connection's packet already has its number: held back while another thread sends the same connection's
/// later packets, it would arrive out of order, and a peer acknowledging those first would have it declared lost.
/// </para>
/// The scope belongs to the thread that began it and is meant to end on it with no await in between: a continuation on
/// another thread does not see it (its sends go at once). Ended from another thread anyway, it still sends what it kept,
/// and the thread that began it stops keeping at its next send. A scope begun inside another is a no-op.
/// </summary>
public sealed class SendCoalescing : IDisposable
{
    [ThreadStatic] private static SendCoalescing? t_current;
    // One per thread, reused: a scope opens around every subgroup's start, and a fresh 96 kB buffer each time went to the
    // large object heap (gen 2 collections: the A/B showed more futex and membarrier calls than the sends it saved).
    [ThreadStatic] private static SendCoalescing? t_cached;

    private static readonly SendCoalescing Nested = new();

    // Enough for MaxBatch datagrams of a common path MTU; a larger one flushes what is kept first.
    private const int BufferBytes = DatagramSocket.MaxBatch * 1500;
    private const int AddressRoom = 128; // sizeof(struct sockaddr_storage)

    private readonly byte[] _buffer = [];
    private readonly int[] _lengths = [];
    private readonly SocketAddress[] _to = [];
    private readonly byte[] _ecn = [];
    private readonly QuicEndpoint[] _endpoints = [];
    // Uncontended unless the scope is ended from another thread than the one keeping into it.
    private readonly Lock _gate = new();
    private int _count, _used;
    private bool _ended;

    private SendCoalescing() { }

    private SendCoalescing(int batch)
    {
        _buffer = new byte[BufferBytes];
        _lengths = new int[batch];
        _to = new SocketAddress[batch];
        // Room for any address (an IPv6 sockaddr is 28 bytes); its family is read from its bytes, so one object serves both.
        for (int i = 0; i < batch; i++) _to[i] = new SocketAddress(System.Net.Sockets.AddressFamily.InterNetworkV6, AddressRoom);
        _ecn = new byte[batch];
        _endpoints = new QuicEndpoint[batch];
    }

    /// <summary>Opens the scope on this thread (or joins the one already open: the outer one sends).</summary>
    public static SendCoalescing Begin()
    {
        if (t_current is not null) return Nested;
        var scope = t_cached ??= new SendCoalescing(DatagramSocket.MaxBatch);
        lock (scope._gate) scope._ended = false;
        t_current = scope;
        return scope;
    }

    /// <summary>Datagrams kept so far.</summary>
    public int Kept
    {
        get { lock (_gate) return _count; }
    }

    /// <summary>Keeps the datagrams for the scope open on this thread; false (send them now) when there is none.</summary>
    internal static bool TryKeep(QuicEndpoint endpoint, ReadOnlySpan<byte> buffer, ReadOnlySpan<int> lengths, SocketAddress to, byte ecn)
    {
        if (t_current is not { } scope) return false;
        lock (scope._gate)
        {
            if (scope._ended)
            {
                t_current = null;   // ended from another thread
                return false;
            }
            int offset = 0;
            foreach (var length in lengths)
            {
                scope.Keep(endpoint, buffer.Slice(offset, length), to, ecn);
                offset += length;
            }
        }
        return true;
    }

    private void Keep(QuicEndpoint endpoint, ReadOnlySpan<byte> datagram, SocketAddress to, byte ecn)
    {
        if (datagram.Length > _buffer.Length)
        {
            // Larger than the whole buffer (a jumbo path): kept datagrams first, to stay in order, then this one alone.
            Flush();
            endpoint.SendBatch(datagram, [datagram.Length], to, allowSegmentation: false, ecn);
            return;
        }
        if (_count == _lengths.Length || _used + datagram.Length > _buffer.Length) Flush();
        datagram.CopyTo(_buffer.AsSpan(_used));
        _lengths[_count] = datagram.Length;
        // A copy: the address object the connection passed may be reused before the scope ends.
        to.Buffer.Span[..to.Size].CopyTo(_to[_count].Buffer.Span);
        _to[_count].Size = to.Size;
        _ecn[_count] = ecn;
        _endpoints[_count] = endpoint;
        _used += datagram.Length;
        _count++;
    }

    /// <summary>Sends what is kept: each run of datagrams of one endpoint in one call, in the order they were kept.</summary>
    private void Flush()
    {
        int start = 0, offset = 0;
        while (start < _count)
        {
            var endpoint = _endpoints[start];
            int end = start, bytes = 0;
            while (end < _count && ReferenceEquals(_endpoints[end], endpoint)) bytes += _lengths[end++];
            try
            {
                endpoint.SendEach(_buffer.AsSpan(offset, bytes), _lengths.AsSpan(start, end - start), _to.AsSpan(start, end - start), _ecn.AsSpan(start, end - start));
            }
            catch (Exception e) when (e is ObjectDisposedException or System.Net.Sockets.SocketException)
            {
                // That endpoint closed meanwhile, or its socket refused: the datagrams are lost, as they would have been sent
                // one connection at a time (recovery resends); the other endpoints' still go, and the scope's owner (a
                // receive loop) goes on.
            }
            offset += bytes;
            start = end;
        }
        Array.Clear(_endpoints, 0, _count);
        _count = _used = 0;
    }

    /// <summary>Sends what is kept and closes the scope (a no-op for a nested one).</summary>
    public void Dispose()
    {
        if (ReferenceEquals(this, Nested)) return;
        lock (_gate)
        {
            if (_ended) return;
            _ended = true;
            Flush();
        }
        if (ReferenceEquals(t_current, this)) t_current = null;
    }
}
