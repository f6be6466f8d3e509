using System.Buffers;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Http3;

public enum Http3ParseStatus
{
    Ok,
    /// <summary>The input ends inside the frame (or frame header): read more and try again.</summary>
    NeedMoreData,
    Error,
}

/// <summary>Type and length of one frame, and how many bytes the type + length fields took.</summary>
public readonly record struct Http3FrameHeader(ulong Type, long Length, int HeaderLength);

/// <summary>
/// HTTP/3 frame layout (RFC 9114 §7.1): varint type, varint length, payload. Frames other than DATA are buffered
/// whole by their readers, so their length is bounded by a cap: a larger one is H3_EXCESSIVE_LOAD before anything is
/// allocated. DATA payloads are streamed and unknown/reserved frames (§9) are skipped without buffering, so neither
/// is capped here.
/// </summary>
public static class Http3FrameCodec
{
    public const long DefaultMaxFramePayload = 64 * 1024;

    public static bool IsKnown(ulong type) => type is 0x00 or 0x01 or 0x03 or 0x04 or 0x05 or 0x07 or 0x0d;

    /// <summary>Reserved frame types 0x1f * N + 0x21 (§7.2.8) — used for greasing.</summary>
    public static bool IsReserved(ulong type) => type >= 0x21 && (type - 0x21) % 0x1f == 0;

    /// <summary>HTTP/2 frame types with no HTTP/3 equivalent (§7.2.8): receiving one is H3_FRAME_UNEXPECTED.</summary>
    public static bool IsHttp2Only(ulong type) => type is 0x02 or 0x06 or 0x08 or 0x09;

    public static Http3ParseStatus TryReadHeader(ReadOnlySpan<byte> source, long maxPayload, out Http3FrameHeader header, out Http3Error error)
    {
        header = default;
        error = Http3Error.None;
        if (!QuicVarint.TryRead(source, out ulong type, out int typeLength))
            return Http3ParseStatus.NeedMoreData;
        if (!QuicVarint.TryRead(source[typeLength..], out ulong length, out int lengthLength))
            return Http3ParseStatus.NeedMoreData;
        if (length > (ulong)maxPayload && IsKnown(type) && type != (ulong)Http3FrameType.Data)
        {
            error = new Http3Error(Http3ErrorCode.ExcessiveLoad, "frame larger than our limit");
            return Http3ParseStatus.Error;
        }
        header = new Http3FrameHeader(type, (long)length, typeLength + lengthLength);
        return Http3ParseStatus.Ok;
    }

    /// <summary>Reads one complete frame from a buffer. Unknown frames are returned too (callers skip them); DATA
    /// payloads count against <paramref name="maxPayload"/> here because this form needs the whole payload.</summary>
    public static Http3ParseStatus TryReadFrame(ReadOnlySpan<byte> source, long maxPayload, out ulong type, out ReadOnlySpan<byte> payload, out int consumed, out Http3Error error)
    {
        type = 0;
        payload = default;
        consumed = 0;
        var status = TryReadHeader(source, maxPayload, out var header, out error);
        if (status != Http3ParseStatus.Ok)
            return status;
        if (header.Length > maxPayload && header.Type == (ulong)Http3FrameType.Data)
        {
            error = new Http3Error(Http3ErrorCode.ExcessiveLoad, "DATA frame larger than our buffering limit");
            return Http3ParseStatus.Error;
        }
        if (header.Length > source.Length - header.HeaderLength)
            return Http3ParseStatus.NeedMoreData;
        type = header.Type;
        payload = source.Slice(header.HeaderLength, (int)header.Length);
        consumed = header.HeaderLength + (int)header.Length;
        return Http3ParseStatus.Ok;
    }

    /// <summary>Payload of GOAWAY, CANCEL_PUSH and MAX_PUSH_ID: exactly one varint (§7.2.3, 7.2.6, 7.2.7).</summary>
    public static bool TryReadSingleVarint(ReadOnlySpan<byte> payload, out ulong value, out Http3Error error)
    {
        if (!QuicVarint.TryRead(payload, out value, out int length) || length != payload.Length)
        {
            error = new Http3Error(Http3ErrorCode.FrameError, "frame payload is not exactly one varint");
            return false;
        }
        error = Http3Error.None;
        return true;
    }

    /// <summary>PUSH_PROMISE (§7.2.5): push id, then an encoded field section.</summary>
    public static bool TryReadPushPromise(ReadOnlySpan<byte> payload, out ulong pushId, out ReadOnlySpan<byte> fieldSection, out Http3Error error)
    {
        fieldSection = default;
        if (!QuicVarint.TryRead(payload, out pushId, out int length))
        {
            error = new Http3Error(Http3ErrorCode.FrameError, "PUSH_PROMISE without a push id");
            return false;
        }
        fieldSection = payload[length..];
        error = Http3Error.None;
        return true;
    }

    public static int GetHeaderLength(ulong type, long length) => QuicVarint.GetLength(type) + QuicVarint.GetLength((ulong)length);

    public static int WriteHeader(Span<byte> destination, ulong type, long length)
    {
        int n = QuicVarint.Write(destination, type);
        return n + QuicVarint.Write(destination[n..], (ulong)length);
    }

    public static void WriteFrame(IBufferWriter<byte> output, ulong type, ReadOnlySpan<byte> payload)
    {
        int headerLength = GetHeaderLength(type, payload.Length);
        var span = output.GetSpan(headerLength + payload.Length);
        WriteHeader(span, type, payload.Length);
        payload.CopyTo(span[headerLength..]);
        output.Advance(headerLength + payload.Length);
    }

    public static void WriteSingleVarintFrame(IBufferWriter<byte> output, Http3FrameType type, ulong value)
    {
        Span<byte> payload = stackalloc byte[8];
        int n = QuicVarint.Write(payload, value);
        WriteFrame(output, (ulong)type, payload[..n]);
    }

    public static void WriteVarint(IBufferWriter<byte> output, ulong value)
    {
        var span = output.GetSpan(8);
        output.Advance(QuicVarint.Write(span, value));
    }
}
