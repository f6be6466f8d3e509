using System.Buffers.Binary;
using System.Globalization;

namespace FastRelay.Protocols.Moq.Clients;

/// <summary>
/// How <c>moq publish --input FILE|-</c> cuts a byte stream into objects. Text forms (<c>--framing</c>):
/// <list type="bullet">
/// <item><c>cmaf</c> (default): ISO-BMFF top-level boxes. The boxes before the first <c>moof</c> (ftyp, moov: the init
/// segment) are one object; after that every <c>moof</c> + <c>mdat</c> pair is one object (a CMAF chunk), together with
/// any boxes between the previous chunk and its <c>moof</c> (styp, prft, emsg). What ffmpeg writes with
/// <c>-f mp4 -movflags cmaf+frag_keyframe+empty_moov+default_base_moof</c> (or <c>frag_every_frame</c> for one chunk per
/// frame). Concatenating the objects in order gives back the exact input.</item>
/// <item><c>size:N</c>: every N bytes are one object (the last one may be shorter).</item>
/// <item><c>length-prefixed</c>: each object is a 4-byte big-endian length followed by that many bytes (for programs).</item>
/// </list>
/// Groups are counted by the publisher, not the framing: a new group every <c>--gop</c> objects.
/// </summary>
public abstract record InputFraming
{
    /// <summary>No object may be larger than this (a corrupt length or a box size must not make us allocate gigabytes).</summary>
    public const int MaxObjectSize = 16 << 20;

    private InputFraming() { }

    public sealed record Cmaf : InputFraming
    {
        public override string ToString() => "cmaf";
    }

    public sealed record FixedSize(int Bytes) : InputFraming
    {
        public override string ToString() => $"size:{Bytes}";
    }

    public sealed record LengthPrefixed : InputFraming
    {
        public override string ToString() => "length-prefixed";
    }

    /// <exception cref="FormatException">Not one of the forms above.</exception>
    public static InputFraming Parse(string text)
    {
        text = text.Trim();
        if (text.Equals("cmaf", StringComparison.OrdinalIgnoreCase)) return new Cmaf();
        if (text.Equals("length-prefixed", StringComparison.OrdinalIgnoreCase)) return new LengthPrefixed();
        if (text.StartsWith("size:", StringComparison.OrdinalIgnoreCase))
        {
            if (int.TryParse(text.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= MaxObjectSize)
                return new FixedSize(n);
            throw new FormatException($"'{text}': size:N needs 1 ≤ N ≤ {MaxObjectSize}");
        }
        throw new FormatException($"'{text}': expected cmaf, size:N or length-prefixed");
    }

    /// <summary>The objects in <paramref name="input"/>, in order, until its end.</summary>
    /// <exception cref="InvalidDataException">The stream does not follow the framing (bad box, length past the bound, a
    /// truncated last object where the framing says how long it should be).</exception>
    public async IAsyncEnumerable<byte[]> ReadObjectsAsync(Stream input, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var reader = new ExactReader(input);
        switch (this)
        {
            case FixedSize fixedSize:
                while (true)
                {
                    var chunk = await reader.ReadUpToAsync(fixedSize.Bytes, cancellationToken);
                    if (chunk.Length == 0) yield break;
                    yield return chunk;
                }
            case LengthPrefixed:
                while (true)
                {
                    var prefix = await reader.ReadUpToAsync(4, cancellationToken);
                    if (prefix.Length == 0) yield break;
                    if (prefix.Length < 4) throw new InvalidDataException("length-prefixed input ends inside a length");
                    var length = BinaryPrimitives.ReadUInt32BigEndian(prefix);
                    if (length > MaxObjectSize) throw new InvalidDataException($"length-prefixed object of {length} bytes is larger than {MaxObjectSize}");
                    var body = await reader.ReadUpToAsync((int)length, cancellationToken);
                    if (body.Length < length) throw new InvalidDataException($"length-prefixed input ends {length - body.Length} bytes short of an object");
                    yield return body;
                }
            case Cmaf:
                await foreach (var chunk in ReadCmafAsync(reader, cancellationToken))
                    yield return chunk;
                yield break;
        }
    }

    private static async IAsyncEnumerable<byte[]> ReadCmafAsync(ExactReader reader, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var pending = new List<(string Type, byte[] Box)>();
        var sawMoof = false;
        while (true)
        {
            var box = await ReadBoxAsync(reader, cancellationToken);
            if (box is null) break;
            var type = BoxType(box);
            if (type == "moof" && !sawMoof)
            {
                // The first chunk: what came before it is the init segment (an object of its own), except a trailing
                // run of boxes that belong in front of a chunk (styp, prft, …), which go with this chunk.
                var chunkStart = pending.Count;
                while (chunkStart > 0 && ChunkPrefixBoxes.Contains(pending[chunkStart - 1].Type)) chunkStart--;
                if (chunkStart > 0)
                {
                    yield return Concat(pending.Take(chunkStart));
                    pending.RemoveRange(0, chunkStart);
                }
                sawMoof = true;
            }
            pending.Add((type, box));
            if (pending.Sum(p => (long)p.Box.Length) > MaxObjectSize) throw new InvalidDataException($"CMAF chunk larger than {MaxObjectSize} bytes");
            if (type == "mdat" && sawMoof)
            {
                yield return Concat(pending);
                pending.Clear();
            }
        }
        if (pending.Count > 0) yield return Concat(pending); // trailing boxes (e.g. mfra), or a stream that never fragmented
    }

    private static byte[] Concat(IEnumerable<(string Type, byte[] Box)> boxes) => boxes.SelectMany(b => b.Box).ToArray();

    /// <summary>Boxes that belong in front of a chunk's moof (so buffered boxes of only these are not an init segment).</summary>
    private static readonly HashSet<string> ChunkPrefixBoxes = ["styp", "prft", "emsg", "sidx"];

    /// <summary>One whole top-level box (header included); null at a clean end of stream.</summary>
    private static async Task<byte[]?> ReadBoxAsync(ExactReader reader, CancellationToken cancellationToken)
    {
        var header = await reader.ReadUpToAsync(8, cancellationToken);
        if (header.Length == 0) return null;
        if (header.Length < 8) throw new InvalidDataException("CMAF input ends inside a box header");
        ulong size = BinaryPrimitives.ReadUInt32BigEndian(header);
        var headerLength = 8;
        byte[]? largeSize = null;
        if (size == 1)
        {
            largeSize = await reader.ReadUpToAsync(8, cancellationToken);
            if (largeSize.Length < 8) throw new InvalidDataException("CMAF input ends inside a 64-bit box size");
            size = BinaryPrimitives.ReadUInt64BigEndian(largeSize);
            headerLength = 16;
        }
        else if (size == 0)
            throw new InvalidDataException($"CMAF box '{BoxType(header)}' runs to the end of the stream (size 0): not a fragmented stream");
        if (size < (ulong)headerLength || size > MaxObjectSize)
            throw new InvalidDataException($"CMAF box '{BoxType(header)}' has size {size} (expected {headerLength}..{MaxObjectSize}); is the input fragmented MP4?");
        var box = new byte[size];
        header.CopyTo(box, 0);
        largeSize?.CopyTo(box, 8);
        var body = await reader.ReadUpToAsync((int)size - headerLength, cancellationToken);
        if (body.Length < (int)size - headerLength) throw new InvalidDataException($"CMAF input ends inside box '{BoxType(header)}'");
        body.CopyTo(box, headerLength);
        return box;
    }

    private static string BoxType(ReadOnlySpan<byte> box) =>
        string.Create(4, box[4..8].ToArray(), (chars, b) => { for (var i = 0; i < 4; i++) chars[i] = (char)b[i]; });

    /// <summary>Reads exactly N bytes unless the stream ends first (pipes return short reads).</summary>
    private sealed class ExactReader(Stream stream)
    {
        public async Task<byte[]> ReadUpToAsync(int count, CancellationToken cancellationToken)
        {
            var buffer = new byte[count];
            var filled = 0;
            while (filled < count)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(filled), cancellationToken);
                if (n == 0) break;
                filled += n;
            }
            return filled == count ? buffer : buffer[..filled];
        }
    }
}
