using System.Buffers;
using System.Text;

namespace FastRelay.Protocols.Quic.Http3.Qpack;

/// <summary>
/// Encodes field sections without a dynamic table (RFC 9204 §4.5): a zero prefix (Required Insert Count 0, Base 0),
/// then per field the static index when name and value match, else a literal with a static name reference, else a
/// literal with a literal name. Strings are Huffman-coded when that is shorter (as nghttp3 does).
/// </summary>
public static class QpackEncoder
{
    private static readonly Dictionary<(string, string), int> ExactIndex = BuildExact();
    private static readonly Dictionary<string, int> NameIndex = BuildNames();

    private static Dictionary<(string, string), int> BuildExact()
    {
        var map = new Dictionary<(string, string), int>();
        var table = QpackStaticTable.Entries;
        for (int i = 0; i < table.Count; i++)
            map.TryAdd((table[i].Name, table[i].Value), i);
        return map;
    }

    private static Dictionary<string, int> BuildNames()
    {
        var map = new Dictionary<string, int>(StringComparer.Ordinal);
        var table = QpackStaticTable.Entries;
        for (int i = 0; i < table.Count; i++)
            map.TryAdd(table[i].Name, i);
        return map;
    }

    public static byte[] Encode(IEnumerable<HttpField> fields)
    {
        var writer = new ArrayBufferWriter<byte>(128);
        Encode(fields, writer);
        return writer.WrittenSpan.ToArray();
    }

    public static void Encode(IEnumerable<HttpField> fields, IBufferWriter<byte> output)
    {
        var prefix = output.GetSpan(2);
        prefix[0] = 0; // Required Insert Count = 0
        prefix[1] = 0; // S = 0, Delta Base = 0
        output.Advance(2);
        foreach (var field in fields)
            EncodeField(field, output);
    }

    private static void EncodeField(HttpField field, IBufferWriter<byte> output)
    {
        if (ExactIndex.TryGetValue((field.Name, field.Value), out int exact))
        {
            // Indexed Field Line, static: 1 1 index(6).
            var span = output.GetSpan(QpackInteger.GetLength((ulong)exact, 6));
            output.Advance(QpackInteger.Write(span, (ulong)exact, 6, 0xc0));
            return;
        }
        if (NameIndex.TryGetValue(field.Name, out int nameIndex))
        {
            // Literal Field Line with Name Reference, static, N = 0: 0 1 0 1 index(4).
            var span = output.GetSpan(QpackInteger.GetLength((ulong)nameIndex, 4));
            output.Advance(QpackInteger.Write(span, (ulong)nameIndex, 4, 0x50));
            WriteString(field.Value, 7, 0, output);
            return;
        }
        // Literal Field Line with Literal Name, N = 0: 0 0 1 0 H namelen(3).
        WriteString(field.Name, 3, 0x20, output);
        WriteString(field.Value, 7, 0, output);
    }

    /// <summary>String literal with the H flag at bit <paramref name="prefixBits"/> and <paramref name="flags"/> above it.</summary>
    private static void WriteString(string text, int prefixBits, byte flags, IBufferWriter<byte> output)
    {
        byte[] raw = Encoding.Latin1.GetBytes(text);
        int huffmanLength = QpackHuffman.GetEncodedLength(raw);
        bool huffman = huffmanLength < raw.Length;
        int length = huffman ? huffmanLength : raw.Length;
        byte first = (byte)(flags | (huffman ? 1 << prefixBits : 0));
        int headerLength = QpackInteger.GetLength((ulong)length, prefixBits);
        var span = output.GetSpan(headerLength + length);
        QpackInteger.Write(span, (ulong)length, prefixBits, first);
        if (huffman)
            QpackHuffman.Encode(raw, span.Slice(headerLength));
        else
            raw.CopyTo(span.Slice(headerLength));
        output.Advance(headerLength + length);
    }
}
