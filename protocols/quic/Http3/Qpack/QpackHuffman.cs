using System.Buffers;

namespace FastRelay.Protocols.Quic.Http3.Qpack;

/// <summary>Huffman coding of string literals (RFC 7541 §5.2 and Appendix B). Decoding walks a binary tree built
/// once from the code table, which keeps the validity rules of §5.2 easy to check: the EOS symbol is an error, and the
/// final padding must be shorter than 8 bits and consist of the most significant bits of EOS (all ones).</summary>
public static class QpackHuffman
{
    // Tree as a flat array: node n has children _tree[2n] (bit 0) and _tree[2n+1] (bit 1). A child value >= 0 is an
    // internal node index, a negative value is a leaf: -(symbol + 1). 0 marks "no child" (never happens for a
    // complete code, kept for safety).
    private static readonly int[] Tree = BuildTree();

    private static int[] BuildTree()
    {
        var tree = new int[2 * 512];
        int nodes = 1;
        var codes = QpackHuffmanTable.Codes;
        var lengths = QpackHuffmanTable.Lengths;
        for (int symbol = 0; symbol <= QpackHuffmanTable.Eos; symbol++)
        {
            int node = 0;
            for (int bit = lengths[symbol] - 1; bit >= 0; bit--)
            {
                int slot = 2 * node + (int)((codes[symbol] >> bit) & 1);
                if (bit == 0)
                    tree[slot] = -(symbol + 1);
                else
                {
                    if (tree[slot] == 0)
                        tree[slot] = nodes++;
                    node = tree[slot];
                }
            }
        }
        return tree;
    }

    /// <summary>Bytes needed to Huffman-encode <paramref name="source"/> (bits rounded up to whole octets).</summary>
    public static int GetEncodedLength(ReadOnlySpan<byte> source)
    {
        var lengths = QpackHuffmanTable.Lengths;
        long bits = 0;
        foreach (byte b in source)
            bits += lengths[b];
        return (int)((bits + 7) / 8);
    }

    /// <summary>Encodes into <paramref name="destination"/> (at least <see cref="GetEncodedLength"/> bytes), padding
    /// the last octet with the high bits of EOS (ones). Returns the bytes written.</summary>
    public static int Encode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var codes = QpackHuffmanTable.Codes;
        var lengths = QpackHuffmanTable.Lengths;
        ulong acc = 0;
        int accBits = 0;
        int written = 0;
        foreach (byte b in source)
        {
            acc = (acc << lengths[b]) | codes[b];
            accBits += lengths[b];
            while (accBits >= 8)
            {
                accBits -= 8;
                destination[written++] = (byte)(acc >> accBits);
            }
        }
        if (accBits > 0)
            destination[written++] = (byte)((acc << (8 - accBits)) | (0xffu >> accBits));
        return written;
    }

    /// <summary>Decodes a Huffman string. False (with nothing guaranteed about <paramref name="output"/>) on EOS in the
    /// data, padding longer than 7 bits, or padding that is not all ones.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> source, IBufferWriter<byte> output)
    {
        int node = 0;
        int bitsSinceSymbol = 0;
        bool allOnes = true;
        foreach (byte b in source)
        {
            for (int bit = 7; bit >= 0; bit--)
            {
                int one = (b >> bit) & 1;
                int next = Tree[2 * node + one];
                bitsSinceSymbol++;
                allOnes &= one == 1;
                if (next < 0)
                {
                    int symbol = -next - 1;
                    if (symbol == QpackHuffmanTable.Eos)
                        return false;
                    output.GetSpan(1)[0] = (byte)symbol;
                    output.Advance(1);
                    node = 0;
                    bitsSinceSymbol = 0;
                    allOnes = true;
                }
                else if (next == 0)
                    return false;
                else
                    node = next;
            }
        }
        // Leftover bits are padding: a prefix of EOS (all ones), strictly shorter than 8 bits.
        return bitsSinceSymbol < 8 && allOnes;
    }
}
