using System.Buffers;
using System.Text;

namespace FastRelay.Protocols.Quic.Http3.Qpack;

/// <summary>
/// Decodes encoded field sections (RFC 9204 §4.5) for an endpoint that advertises
/// SETTINGS_QPACK_MAX_TABLE_CAPACITY = 0: only the static table and literals can be referenced. Any dynamic table
/// reference (Required Insert Count ≠ 0, dynamic or post-base index) is QPACK_DECOMPRESSION_FAILED, as is every
/// malformed representation; the decoder never throws on input.
/// </summary>
public static class QpackDecoder
{
    /// <summary>Default bound on the decoded size of a section (RFC 9114 §4.2.2 size: name + value + 32 per line).</summary>
    public const int DefaultMaxSectionSize = 64 * 1024;

    public static bool TryDecode(ReadOnlySpan<byte> section, List<HttpField> fields, out Http3Error error) =>
        TryDecode(section, fields, DefaultMaxSectionSize, out error);

    public static bool TryDecode(ReadOnlySpan<byte> section, List<HttpField> fields, int maxSectionSize, out Http3Error error)
    {
        // Prefix: Required Insert Count (8-bit prefix), then sign bit + Delta Base (7-bit prefix).
        if (!QpackInteger.TryRead(section, 8, out ulong requiredInsertCount, out int n, out _))
            return Fail(out error, "truncated or oversized Required Insert Count");
        section = section[n..];
        if (requiredInsertCount != 0)
            return Fail(out error, "Required Insert Count is not 0 but our dynamic table capacity is 0");
        if (!QpackInteger.TryRead(section, 7, out _, out n, out _))
            return Fail(out error, "truncated or oversized Delta Base");
        section = section[n..];

        var scratch = new ArrayBufferWriter<byte>(64);
        long size = 0;
        var table = QpackStaticTable.Entries;
        while (!section.IsEmpty)
        {
            byte first = section[0];
            string name, value;
            if ((first & 0x80) != 0)
            {
                // Indexed Field Line: 1 T index(6).
                if ((first & 0x40) == 0)
                    return Fail(out error, "indexed field line references the dynamic table");
                if (!QpackInteger.TryRead(section, 6, out ulong index, out n, out _))
                    return Fail(out error, "truncated indexed field line");
                if (index >= (ulong)table.Count)
                    return Fail(out error, "static table index out of range");
                section = section[n..];
                (name, value) = table[(int)index];
            }
            else if ((first & 0x40) != 0)
            {
                // Literal Field Line with Name Reference: 01 N T index(4), then the value string.
                if ((first & 0x10) == 0)
                    return Fail(out error, "literal field line references a dynamic table name");
                if (!QpackInteger.TryRead(section, 4, out ulong index, out n, out _))
                    return Fail(out error, "truncated name reference");
                if (index >= (ulong)table.Count)
                    return Fail(out error, "static table index out of range");
                section = section[n..];
                name = table[(int)index].Name;
                if (!TryReadString(ref section, 7, scratch, out value))
                    return Fail(out error, "malformed field value string");
            }
            else if ((first & 0x20) != 0)
            {
                // Literal Field Line with Literal Name: 001 N H namelen(3), name, then the value string.
                if (!TryReadString(ref section, 3, scratch, out name))
                    return Fail(out error, "malformed field name string");
                if (!TryReadString(ref section, 7, scratch, out value))
                    return Fail(out error, "malformed field value string");
            }
            else
            {
                // 0001xxxx indexed post-base, 0000xxxx literal with post-base name reference: dynamic table only.
                return Fail(out error, "post-base reference into the dynamic table");
            }
            size += name.Length + value.Length + 32;
            if (size > maxSectionSize)
            {
                error = new Http3Error(Http3ErrorCode.ExcessiveLoad, "decoded field section larger than our limit");
                return false;
            }
            fields.Add(new HttpField(name, value));
        }
        error = Http3Error.None;
        return true;
    }

    /// <summary>String literal (RFC 9204 §4.1.2): H flag just above an N-bit length prefix, then the octets. The
    /// length is checked against what is left before anything is allocated.</summary>
    private static bool TryReadString(ref ReadOnlySpan<byte> source, int prefixBits, ArrayBufferWriter<byte> scratch, out string text)
    {
        text = "";
        if (source.IsEmpty)
            return false;
        bool huffman = (source[0] & (1 << prefixBits)) != 0;
        if (!QpackInteger.TryRead(source, prefixBits, out ulong length, out int n, out _))
            return false;
        if (length > (ulong)(source.Length - n))
            return false;
        var raw = source.Slice(n, (int)length);
        source = source[(n + (int)length)..];
        if (!huffman)
        {
            text = Encoding.Latin1.GetString(raw);
            return true;
        }
        scratch.ResetWrittenCount();
        if (!QpackHuffman.TryDecode(raw, scratch))
            return false;
        text = Encoding.Latin1.GetString(scratch.WrittenSpan);
        return true;
    }

    private static bool Fail(out Http3Error error, string reason)
    {
        error = new Http3Error(Http3ErrorCode.QpackDecompressionFailed, reason);
        return false;
    }
}
