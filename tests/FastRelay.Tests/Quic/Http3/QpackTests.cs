using System.Buffers;
using System.Text;
using FastRelay.Protocols.Quic.Http3;
using FastRelay.Protocols.Quic.Http3.Qpack;
using Xunit;

namespace FastRelay.Tests.Quic.Http3;

public class QpackTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    // RFC 7541 C.1.1-C.1.3.
    [Theory]
    [InlineData(10UL, 5, "0a")]
    [InlineData(1337UL, 5, "1f9a0a")]
    [InlineData(42UL, 8, "2a")]
    public void Integer_Rfc7541_C1(ulong value, int prefix, string hex)
    {
        var buffer = new byte[16];
        int n = QpackInteger.Write(buffer, value, prefix, 0);
        Assert.Equal(hex, Convert.ToHexStringLower(buffer, 0, n));
        Assert.True(QpackInteger.TryRead(Hex(hex), prefix, out ulong read, out int consumed, out _));
        Assert.Equal(value, read);
        Assert.Equal(n, consumed);
    }

    [Fact]
    public void Integer_flags_above_prefix_are_kept_and_ignored_on_read()
    {
        var buffer = new byte[16];
        int n = QpackInteger.Write(buffer, 1337, 5, 0xe0);
        Assert.Equal("ff9a0a", Convert.ToHexStringLower(buffer, 0, n));
        Assert.True(QpackInteger.TryRead(buffer.AsSpan(0, n), 5, out ulong value, out _, out _));
        Assert.Equal(1337UL, value);
    }

    [Fact]
    public void Integer_random_round_trips_and_truncations()
    {
        var random = new Random(7);
        var buffer = new byte[16];
        for (int i = 0; i < 5000; i++)
        {
            ulong value = (ulong)random.NextInt64() >> random.Next(0, 63);
            if (value > QpackInteger.MaxValue) value >>= 2;
            int prefix = random.Next(1, 9);
            int n = QpackInteger.Write(buffer, value, prefix, 0);
            Assert.Equal(QpackInteger.GetLength(value, prefix), n);
            Assert.True(QpackInteger.TryRead(buffer.AsSpan(0, n), prefix, out ulong read, out int consumed, out _));
            Assert.Equal((value, n), (read, consumed));
            for (int cut = 0; cut < n; cut++)
            {
                Assert.False(QpackInteger.TryRead(buffer.AsSpan(0, cut), prefix, out _, out _, out bool truncated));
                Assert.True(truncated);
            }
        }
    }

    [Fact]
    public void Integer_overflow_is_refused_not_wrapped()
    {
        // 0x1f then eleven continuation bytes of 0xff: far above 2^62.
        var hostile = new byte[] { 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
        Assert.False(QpackInteger.TryRead(hostile, 5, out _, out _, out bool truncated));
        Assert.False(truncated);
    }

    // RFC 7541 C.4.1-C.4.3 and C.6.1 Huffman-coded strings.
    [Theory]
    [InlineData("www.example.com", "f1e3c2e5f23a6ba0ab90f4ff")]
    [InlineData("no-cache", "a8eb10649cbf")]
    [InlineData("custom-key", "25a849e95ba97d7f")]
    [InlineData("custom-value", "25a849e95bb8e8b4bf")]
    [InlineData("302", "6402")]
    [InlineData("private", "aec3771a4b")]
    [InlineData("Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff")]
    [InlineData("https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3")]
    public void Huffman_Rfc7541_examples(string text, string hex)
    {
        var raw = Encoding.ASCII.GetBytes(text);
        var encoded = new byte[QpackHuffman.GetEncodedLength(raw)];
        Assert.Equal(encoded.Length, QpackHuffman.Encode(raw, encoded));
        Assert.Equal(hex, Convert.ToHexStringLower(encoded));
        var decoded = new ArrayBufferWriter<byte>();
        Assert.True(QpackHuffman.TryDecode(Hex(hex), decoded));
        Assert.Equal(text, Encoding.ASCII.GetString(decoded.WrittenSpan));
    }

    [Fact]
    public void Huffman_random_round_trips_every_byte_value()
    {
        var random = new Random(11);
        for (int i = 0; i < 3000; i++)
        {
            var raw = new byte[random.Next(0, 64)];
            random.NextBytes(raw);
            var encoded = new byte[QpackHuffman.GetEncodedLength(raw)];
            QpackHuffman.Encode(raw, encoded);
            var decoded = new ArrayBufferWriter<byte>();
            Assert.True(QpackHuffman.TryDecode(encoded, decoded));
            Assert.Equal(raw, decoded.WrittenSpan.ToArray());
        }
        var all = Enumerable.Range(0, 256).Select(b => (byte)b).ToArray();
        var allEncoded = new byte[QpackHuffman.GetEncodedLength(all)];
        QpackHuffman.Encode(all, allEncoded);
        var allDecoded = new ArrayBufferWriter<byte>();
        Assert.True(QpackHuffman.TryDecode(allEncoded, allDecoded));
        Assert.Equal(all, allDecoded.WrittenSpan.ToArray());
    }

    [Theory]
    [InlineData("ffffffff")]   // 30 one-bits = EOS inside the string (§5.2)
    [InlineData("1fff")]       // 'a' (00011) then 11 bits of padding: longer than 7 bits
    [InlineData("18")]         // 'a' then padding 000: not the EOS prefix
    [InlineData("f1e3c2e5f23a6ba0ab90f4fe")] // last padding bit flipped to 0
    public void Huffman_invalid_padding_or_EOS_fails(string hex) =>
        Assert.False(QpackHuffman.TryDecode(Hex(hex), new ArrayBufferWriter<byte>()));

    [Fact]
    public void Rfc9204_B1_literal_with_static_name_reference()
    {
        var fields = new List<HttpField>();
        Assert.True(QpackDecoder.TryDecode(Hex("0000 510b 2f69 6e64 6578 2e68 746d 6c"), fields, out var error), error.ToString());
        Assert.Equal([new HttpField(":path", "/index.html")], fields);
    }

    [Fact]
    public void Static_table_has_99_entries_matching_the_rfc_ends()
    {
        Assert.Equal(99, QpackStaticTable.Entries.Count);
        Assert.Equal(new HttpField(":authority", ""), QpackStaticTable.Entries[0]);
        Assert.Equal(new HttpField(":method", "GET"), QpackStaticTable.Entries[17]);
        Assert.Equal(new HttpField(":status", "200"), QpackStaticTable.Entries[25]);
        Assert.Equal(new HttpField("content-security-policy", "script-src 'none'; object-src 'none'; base-uri 'none'"), QpackStaticTable.Entries[85]);
        Assert.Equal(new HttpField("x-frame-options", "sameorigin"), QpackStaticTable.Entries[98]);
    }

    [Fact]
    public void Every_static_entry_encodes_as_an_index_and_round_trips()
    {
        var table = QpackStaticTable.Entries;
        for (int i = 0; i < table.Count; i++)
        {
            var encoded = QpackEncoder.Encode([table[i]]);
            var fields = new List<HttpField>();
            Assert.True(QpackDecoder.TryDecode(encoded, fields, out var error), error.ToString());
            Assert.Equal([table[i]], fields);
            // Prefix (2 bytes) + indexed field line, static: 11xxxxxx (+ continuation above 62).
            Assert.Equal(0xc0, encoded[2] & 0xc0);
            Assert.Equal(i < 63 ? 3 : 4, encoded.Length);
        }
    }

    [Fact]
    public void Encoder_uses_name_reference_then_literal_name()
    {
        var encoded = QpackEncoder.Encode([new HttpField(":path", "/x"), new HttpField("x-custom", "v")]);
        // :path has static name index 1 → 0101 0001 = 0x51; "x-custom" is not in the table → 001N H...
        Assert.Equal(0x51, encoded[2]);
        int second = 3 + 1 + 2; // length byte + "/x" (2 bytes, Huffman not shorter)
        Assert.Equal(0x20, encoded[second] & 0xe0);
        var fields = new List<HttpField>();
        Assert.True(QpackDecoder.TryDecode(encoded, fields, out _));
        Assert.Equal([new HttpField(":path", "/x"), new HttpField("x-custom", "v")], fields);
    }

    [Fact]
    public void Encoder_uses_huffman_when_shorter()
    {
        var encoded = QpackEncoder.Encode([new HttpField(":authority", "www.example.com")]);
        // name ref index 0 (0x50), then H=1 length 12 (0x8c), then the C.4.1 bytes.
        Assert.Equal("0000508cf1e3c2e5f23a6ba0ab90f4ff", Convert.ToHexStringLower(encoded));
    }

    [Fact]
    public void Random_field_sections_round_trip()
    {
        var random = new Random(3);
        var names = QpackStaticTable.Entries.Select(e => e.Name).Distinct().Concat(["x-a", "x-long-custom-header", "etag2"]).ToArray();
        for (int i = 0; i < 2000; i++)
        {
            var fields = new List<HttpField>();
            for (int f = random.Next(0, 12); f > 0; f--)
            {
                var valueBytes = new byte[random.Next(0, 40)];
                for (int b = 0; b < valueBytes.Length; b++)
                    valueBytes[b] = (byte)random.Next(0, 256);
                string value = random.Next(3) == 0 ? QpackStaticTable.Entries[random.Next(99)].Value : Encoding.Latin1.GetString(valueBytes);
                fields.Add(new HttpField(names[random.Next(names.Length)], value));
            }
            var decoded = new List<HttpField>();
            Assert.True(QpackDecoder.TryDecode(QpackEncoder.Encode(fields), decoded, out var error), error.ToString());
            Assert.Equal(fields, decoded);
        }
    }

    [Theory]
    [InlineData("0100", "Required Insert Count ≠ 0")]
    [InlineData("0000 80", "indexed dynamic")]
    [InlineData("0000 10", "indexed post-base")]
    [InlineData("0000 00", "literal with post-base name reference")]
    [InlineData("0000 4005 6162636465", "literal with dynamic name reference")]
    [InlineData("0000 ff24", "static index 99")]
    [InlineData("0000 5f54 0161", "static name index 99")]
    [InlineData("0000 510b 2f69", "value truncated")]
    [InlineData("0000 51", "value missing")]
    [InlineData("0000 23616263", "literal name truncated")]
    [InlineData("0000 517f ffffffff0f", "huge value length")]
    [InlineData("0000 5181 18", "huffman value with bad padding")]
    [InlineData("0000 5184 ffffffff", "huffman value containing EOS")]
    [InlineData("", "empty prefix")]
    [InlineData("00", "half a prefix")]
    [InlineData("ff", "truncated Required Insert Count")]
    public void Malformed_sections_fail_with_decompression_failed(string hex, string why)
    {
        var fields = new List<HttpField>();
        Assert.False(QpackDecoder.TryDecode(Hex(hex), fields, out var error), why);
        Assert.Equal(Http3ErrorCode.QpackDecompressionFailed, error.Code);
    }

    [Fact]
    public void Oversized_section_is_excessive_load()
    {
        var section = QpackEncoder.Encode(Enumerable.Range(0, 100).Select(i => new HttpField("x-h" + i, new string('a', 100))));
        Assert.False(QpackDecoder.TryDecode(section, new List<HttpField>(), 4096, out var error));
        Assert.Equal(Http3ErrorCode.ExcessiveLoad, error.Code);
    }

    [Fact]
    public void Fuzz_random_and_mutated_sections_never_throw()
    {
        var random = new Random(20240601);
        var valid = QpackEncoder.Encode([
            new HttpField(":status", "200"), new HttpField("content-length", "12345"),
            new HttpField("server", "nghttp3/0.12"), new HttpField("x-test", "www.example.com"),
        ]);
        int decodedCount = 0;
        for (int i = 0; i < 25_000; i++)
        {
            byte[] input;
            if (i % 2 == 0)
            {
                input = new byte[random.Next(0, 48)];
                random.NextBytes(input);
                if (input.Length >= 2 && random.Next(2) == 0) { input[0] = 0; input[1] = 0; } // get past the prefix often
            }
            else
            {
                input = (byte[])valid.Clone();
                for (int m = random.Next(1, 4); m > 0; m--)
                    input[random.Next(input.Length)] ^= (byte)(1 << random.Next(8));
                input = input[..random.Next(0, input.Length + 1)];
            }
            var fields = new List<HttpField>();
            if (QpackDecoder.TryDecode(input, fields, out var error))
            {
                decodedCount++;
                // Anything accepted re-encodes to something that decodes to the same fields.
                var again = new List<HttpField>();
                Assert.True(QpackDecoder.TryDecode(QpackEncoder.Encode(fields), again, out _));
                Assert.Equal(fields, again);
            }
            else
                Assert.True(error.Code is Http3ErrorCode.QpackDecompressionFailed or Http3ErrorCode.ExcessiveLoad, error.ToString());
        }
        Assert.True(decodedCount > 100, $"only {decodedCount} inputs decoded: the fuzz is not reaching the field lines");
    }
}
