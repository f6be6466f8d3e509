using System.Buffers.Binary;
using System.Text;
using FastRelay.Protocols.Moq.Clients;
using Xunit;

namespace FastRelay.Tests.Moq.Clients;

/// <summary>Cutting stdin / a file into objects.</summary>
public sealed class InputFramingTests
{
    private static async Task<List<byte[]>> Read(InputFraming framing, byte[] input, int readSize = 3)
    {
        var objects = new List<byte[]>();
        await foreach (var o in framing.ReadObjectsAsync(new TrickleStream(input, readSize))) objects.Add(o);
        return objects;
    }

    private static byte[] Box(string type, int bodyLength, byte fill = 0xAB)
    {
        var box = new byte[8 + bodyLength];
        BinaryPrimitives.WriteUInt32BigEndian(box, (uint)box.Length);
        Encoding.ASCII.GetBytes(type).CopyTo(box, 4);
        box.AsSpan(8).Fill(fill);
        return box;
    }

    [Fact]
    public async Task Size_framing_cuts_every_n_bytes_and_keeps_a_short_tail()
    {
        var input = Enumerable.Range(0, 25).Select(i => (byte)i).ToArray();
        var objects = await Read(InputFraming.Parse("size:10"), input);
        Assert.Equal([10, 10, 5], objects.Select(o => o.Length));
        Assert.Equal(input, objects.SelectMany(o => o).ToArray());
    }

    [Fact]
    public async Task Length_prefixed_framing_reads_each_declared_object()
    {
        var input = new MemoryStream();
        foreach (var n in new[] { 3, 0, 5 })
        {
            var prefix = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(prefix, (uint)n);
            input.Write(prefix);
            input.Write(Enumerable.Repeat((byte)n, n).ToArray());
        }
        var objects = await Read(InputFraming.Parse("length-prefixed"), input.ToArray());
        Assert.Equal([3, 0, 5], objects.Select(o => o.Length));
        Assert.All(objects[2], b => Assert.Equal(5, b));
    }

    [Fact]
    public async Task Length_prefixed_input_cut_short_is_an_error()
    {
        var input = new byte[] { 0, 0, 0, 9, 1, 2 };
        await Assert.ThrowsAsync<InvalidDataException>(() => Read(InputFraming.Parse("length-prefixed"), input));
    }

    [Fact]
    public async Task Cmaf_framing_makes_the_init_segment_one_object_and_each_moof_mdat_chunk_one_more()
    {
        byte[][] boxes = [Box("ftyp", 16), Box("moov", 300), Box("styp", 8), Box("moof", 90), Box("mdat", 5000), Box("moof", 80), Box("mdat", 700), Box("prft", 20), Box("moof", 80), Box("mdat", 10)];
        var input = boxes.SelectMany(b => b).ToArray();

        var objects = await Read(new InputFraming.Cmaf(), input, readSize: 777);

        Assert.Equal([24 + 308, 16 + 98 + 5008, 88 + 708, 28 + 88 + 18], objects.Select(o => o.Length));
        Assert.Equal(input, objects.SelectMany(o => o).ToArray()); // concatenated objects are the input, byte for byte
    }

    [Fact]
    public async Task Cmaf_framing_refuses_a_box_that_is_not_a_box()
    {
        var garbage = Encoding.ASCII.GetBytes("this is not an mp4 file at all");
        await Assert.ThrowsAsync<InvalidDataException>(() => Read(new InputFraming.Cmaf(), garbage));
    }

    [Theory]
    [InlineData("size:0")]
    [InlineData("size:x")]
    [InlineData("chunks")]
    [InlineData("size:99999999999")]
    public void Bad_framing_text_is_a_format_error(string text) => Assert.Throws<FormatException>(() => InputFraming.Parse(text));

    /// <summary>A pipe-like stream: short reads.</summary>
    private sealed class TrickleStream(byte[] data, int readSize) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, readSize)], cancellationToken);
    }
}
