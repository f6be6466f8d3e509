using FastRelay.Protocols.Quic.Api;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Http3.WebTransport;

/// <summary>
/// Reads the varints at the start of a stream (stream type / WT_STREAM signal, session id) without reading a byte
/// further, so the rest of the stream stays untouched for whoever owns it next. At most 8 bytes per varint.
/// </summary>
internal static class StreamHeaderReader
{
    /// <summary>The varint, with the bytes it took; null when the stream ended first.</summary>
    public static async ValueTask<(ulong Value, byte[] Raw)?> ReadVarintAsync(QuicStream stream, CancellationToken cancellationToken)
    {
        var raw = new byte[8];
        if (!await ReadExactlyAsync(stream, raw.AsMemory(0, 1), cancellationToken).ConfigureAwait(false))
            return null;
        int length = QuicVarint.GetLengthFromFirstByte(raw[0]);
        if (length > 1 && !await ReadExactlyAsync(stream, raw.AsMemory(1, length - 1), cancellationToken).ConfigureAwait(false))
            return null;
        QuicVarint.TryRead(raw.AsSpan(0, length), out ulong value, out _);
        return (value, raw[..length]);
    }

    private static async ValueTask<bool> ReadExactlyAsync(QuicStream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer[read..], cancellationToken).ConfigureAwait(false);
            if (n == 0)
                return false;
            read += n;
        }
        return true;
    }

    public static byte[] Encode(ulong first, ulong second)
    {
        var bytes = new byte[16];
        int n = QuicVarint.Write(bytes, first);
        n += QuicVarint.Write(bytes.AsSpan(n), second);
        return bytes[..n];
    }
}

/// <summary>An <see cref="IHttp3Stream"/> over a QUIC stream whose first bytes were already read: they are handed out
/// again first, so the HTTP/3 request parser sees the stream from its beginning.</summary>
internal sealed class PrefixedHttp3Stream(QuicStream stream, byte[] prefix) : IHttp3Stream
{
    private int _prefixOffset;

    public QuicStream QuicStream => stream;
    public long Id => stream.Id;
    public QuicStreamType Type => stream.Type;

    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_prefixOffset < prefix.Length && !buffer.IsEmpty)
        {
            int n = Math.Min(buffer.Length, prefix.Length - _prefixOffset);
            prefix.AsSpan(_prefixOffset, n).CopyTo(buffer.Span);
            _prefixOffset += n;
            return ValueTask.FromResult(n);
        }
        return stream.ReadAsync(buffer, cancellationToken);
    }

    public ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, bool completeWrites, CancellationToken cancellationToken = default) =>
        stream.WriteAsync(buffer, completeWrites, cancellationToken);

    public void CompleteWrites() => stream.CompleteWrites();
    public void Abort(QuicAbortDirection direction, long errorCode) => stream.Abort(direction, errorCode);
}
