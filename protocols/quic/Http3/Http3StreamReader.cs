using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Http3;

/// <summary>
/// Buffered frame reader over one stream. Frame headers and small frames come out of a fixed buffer; DATA payloads
/// are copied straight to the caller and unknown frames are skipped, so memory stays bounded by the buffer plus the
/// frame cap whatever the peer sends. Protocol violations throw <see cref="Http3Exception"/> (this is the async driver
/// layer; the byte-level parsers underneath return errors).
/// </summary>
public sealed class Http3StreamReader(IHttp3Stream stream, long maxFramePayload = Http3FrameCodec.DefaultMaxFramePayload)
{
    private readonly byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;
    private bool _fin;

    public IHttp3Stream Stream { get; } = stream;

    private int Buffered => _end - _start;

    /// <summary>Fills the buffer with at least <paramref name="needed"/> bytes; false if FIN came first.</summary>
    private async ValueTask<bool> FillAsync(int needed, CancellationToken cancellationToken)
    {
        while (Buffered < needed)
        {
            if (_fin)
                return false;
            if (_buffer.Length - _end < needed - Buffered)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, Buffered);
                _end -= _start;
                _start = 0;
            }
            int n = await Stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (n == 0)
                _fin = true;
            _end += n;
        }
        return true;
    }

    /// <summary>The stream type varint at the start of a unidirectional stream; null if the stream ended first.</summary>
    public async ValueTask<ulong?> ReadVarintAsync(CancellationToken cancellationToken)
    {
        if (!await FillAsync(1, cancellationToken).ConfigureAwait(false))
            return null;
        int length = QuicVarint.GetLengthFromFirstByte(_buffer[_start]);
        if (!await FillAsync(length, cancellationToken).ConfigureAwait(false))
            return null;
        QuicVarint.TryRead(_buffer.AsSpan(_start, length), out ulong value, out _);
        _start += length;
        return value;
    }

    /// <summary>Next frame header, or null on a clean FIN at a frame boundary. FIN inside a header is H3_FRAME_ERROR.</summary>
    public async ValueTask<Http3FrameHeader?> ReadFrameHeaderAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var status = Http3FrameCodec.TryReadHeader(_buffer.AsSpan(_start, Buffered), maxFramePayload, out var header, out var error);
            if (status == Http3ParseStatus.Error)
                throw new Http3Exception(error);
            if (status == Http3ParseStatus.Ok)
            {
                _start += header.HeaderLength;
                return header;
            }
            if (!await FillAsync(Buffered + 1, cancellationToken).ConfigureAwait(false))
            {
                if (Buffered == 0)
                    return null;
                throw new Http3Exception(Http3ErrorCode.FrameError, "stream ended inside a frame header");
            }
        }
    }

    /// <summary>Whole payload of a (capped) frame.</summary>
    public async ValueTask<byte[]> ReadPayloadAsync(long length, CancellationToken cancellationToken)
    {
        if (length > maxFramePayload)
            throw new Http3Exception(Http3ErrorCode.ExcessiveLoad, "frame larger than our limit");
        var payload = new byte[length];
        int copied = 0;
        while (copied < length)
        {
            int n = await ReadSomeAsync(payload.AsMemory(copied), cancellationToken).ConfigureAwait(false);
            if (n == 0)
                throw new Http3Exception(Http3ErrorCode.FrameError, "stream ended inside a frame");
            copied += n;
        }
        return payload;
    }

    /// <summary>A HEADERS frame's payload of <paramref name="length"/> bytes, QPACK-decoded; a bad field section throws its HTTP/3 error.</summary>
    public async ValueTask<List<Qpack.HttpField>> ReadFieldSectionAsync(long length, CancellationToken cancellationToken)
    {
        var payload = await ReadPayloadAsync(length, cancellationToken).ConfigureAwait(false);
        var fields = new List<Qpack.HttpField>();
        if (!Qpack.QpackDecoder.TryDecode(payload, fields, out var error))
            throw new Http3Exception(error);
        return fields;
    }

    /// <summary>Up to <paramref name="destination"/>.Length bytes of frame payload; 0 only at FIN.</summary>
    public async ValueTask<int> ReadSomeAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (destination.IsEmpty)
            return 0;
        if (Buffered == 0)
        {
            if (_fin)
                return 0;
            // Large reads bypass the buffer: body bytes go straight to the caller.
            if (destination.Length >= _buffer.Length / 2)
            {
                int direct = await Stream.ReadAsync(destination, cancellationToken).ConfigureAwait(false);
                if (direct == 0)
                    _fin = true;
                return direct;
            }
            if (!await FillAsync(1, cancellationToken).ConfigureAwait(false))
                return 0;
        }
        int n = Math.Min(destination.Length, Buffered);
        _buffer.AsSpan(_start, n).CopyTo(destination.Span);
        _start += n;
        return n;
    }

    /// <summary>Discards <paramref name="length"/> payload bytes (unknown frames, ignored DATA).</summary>
    public async ValueTask SkipAsync(long length, CancellationToken cancellationToken)
    {
        while (length > 0)
        {
            if (Buffered == 0 && !await FillAsync(1, cancellationToken).ConfigureAwait(false))
                throw new Http3Exception(Http3ErrorCode.FrameError, "stream ended inside a frame");
            int n = (int)Math.Min(length, Buffered);
            _start += n;
            length -= n;
        }
    }

    /// <summary>Reads and discards everything until FIN (QPACK streams we accept but never need).</summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        _start = _end = 0;
        while (!_fin)
        {
            int n = await Stream.ReadAsync(_buffer, cancellationToken).ConfigureAwait(false);
            if (n == 0)
                _fin = true;
        }
    }
}
