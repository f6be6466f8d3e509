using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Http3.WebTransport;

/// <summary>Type and length of one capsule and how many bytes the two varints took.</summary>
public readonly record struct CapsuleHeader(ulong Type, long Length, int HeaderLength);

/// <summary>What WT_CLOSE_SESSION carries.</summary>
public readonly record struct CloseSessionCapsule(uint ErrorCode, string Message);

/// <summary>
/// The Capsule Protocol (RFC 9297 §3.2): varint type, varint length, payload, carried in the DATA frames of the
/// CONNECT stream. The parsers are bounded: a capsule we buffer (CLOSE) has a payload cap, every other type is
/// skipped by length without buffering. Parsers return errors, never throw.
/// </summary>
public static class Capsule
{
    /// <summary>WT_CLOSE_SESSION's message is at most 1024 bytes (draft §6), plus the 4-byte code.</summary>
    public const int MaxCloseMessageBytes = 1024;
    public const int MaxClosePayload = 4 + MaxCloseMessageBytes;

    public static Http3ParseStatus TryReadHeader(ReadOnlySpan<byte> source, out CapsuleHeader header)
    {
        header = default;
        if (!QuicVarint.TryRead(source, out ulong type, out int typeLength)) return Http3ParseStatus.NeedMoreData;
        if (!QuicVarint.TryRead(source[typeLength..], out ulong length, out int lengthLength)) return Http3ParseStatus.NeedMoreData;
        header = new CapsuleHeader(type, (long)length, typeLength + lengthLength);
        return Http3ParseStatus.Ok;
    }

    /// <summary>WT_CLOSE_SESSION payload: exactly a 32-bit code and a valid UTF-8 message of at most 1024 bytes;
    /// anything else is H3_MESSAGE_ERROR (the CONNECT stream is reset with it).</summary>
    public static bool TryReadCloseSession(ReadOnlySpan<byte> payload, out CloseSessionCapsule close, out Http3Error error)
    {
        close = default;
        if (payload.Length < 4)
        {
            error = new Http3Error(Http3ErrorCode.MessageError, "WT_CLOSE_SESSION shorter than its error code");
            return false;
        }
        if (payload.Length > MaxClosePayload)
        {
            error = new Http3Error(Http3ErrorCode.MessageError, "WT_CLOSE_SESSION message longer than 1024 bytes");
            return false;
        }
        string message;
        try
        {
            message = StrictUtf8.GetString(payload[4..]);
        }
        catch (DecoderFallbackException)
        {
            error = new Http3Error(Http3ErrorCode.MessageError, "WT_CLOSE_SESSION message is not UTF-8");
            return false;
        }
        close = new CloseSessionCapsule(BinaryPrimitives.ReadUInt32BigEndian(payload), message);
        error = Http3Error.None;
        return true;
    }

    public static void Write(IBufferWriter<byte> output, ulong type, ReadOnlySpan<byte> payload)
    {
        Http3FrameCodec.WriteVarint(output, type);
        Http3FrameCodec.WriteVarint(output, (ulong)payload.Length);
        output.Write(payload);
    }

    /// <summary>WT_CLOSE_SESSION; a message over 1024 bytes is cut at a UTF-8 character boundary (draft §6).</summary>
    public static void WriteCloseSession(IBufferWriter<byte> output, uint errorCode, string message)
    {
        var payload = new byte[4 + Math.Min(MaxCloseMessageBytes, Encoding.UTF8.GetByteCount(message))];
        BinaryPrimitives.WriteUInt32BigEndian(payload, errorCode);
        int written = TruncatedUtf8(message, payload.AsSpan(4));
        Write(output, CapsuleType.CloseSession, payload.AsSpan(0, 4 + written));
    }

    public static void WriteDrainSession(IBufferWriter<byte> output) => Write(output, CapsuleType.DrainSession, []);

    /// <summary>Encodes whole characters only, as many as fit.</summary>
    private static int TruncatedUtf8(string text, Span<byte> destination)
    {
        var encoder = Encoding.UTF8.GetEncoder();
        encoder.Convert(text.AsSpan(), destination, flush: true, out _, out int bytes, out _);
        return bytes;
    }

    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);
}
