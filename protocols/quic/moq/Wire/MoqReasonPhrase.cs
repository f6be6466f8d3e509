using System.Text;

namespace FastRelay.Protocols.Moq.Wire;

/// <summary>Reason Phrase (draft-19 §"Reason Phrase Structure"): a varint length (at most 1024) and UTF-8 text.</summary>
public static class MoqReasonPhrase
{
    public const int MaxLength = 1024;

    /// <summary>Reads a reason phrase; over 1024 bytes is PROTOCOL_VIOLATION. Invalid UTF-8 is kept (replacement chars): it is diagnostics only.</summary>
    public static bool TryRead(ref MoqReader reader, out string reason, out MoqError error)
    {
        reason = "";
        if (!reader.TryReadVarint(out ulong length)) { error = MoqError.Protocol("truncated reason phrase"); return false; }
        if (length > MaxLength) { error = MoqError.Protocol("reason phrase over 1024 bytes"); return false; }
        if (!reader.TryReadBytes(length, out var bytes)) { error = MoqError.Protocol("truncated reason phrase"); return false; }
        reason = Encoding.UTF8.GetString(bytes.Span);
        error = MoqError.None;
        return true;
    }

    /// <summary>Writes <paramref name="reason"/>, cut at a character boundary so it fits 1024 bytes.</summary>
    public static void Write(MoqWriter writer, string reason)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(reason);
        int length = bytes.Length;
        if (length > MaxLength)
        {
            length = MaxLength;
            while (length > 0 && (bytes[length] & 0xC0) == 0x80) length--; // do not split a UTF-8 sequence
        }
        writer.WriteLengthPrefixed(bytes.AsSpan(0, length));
    }
}
