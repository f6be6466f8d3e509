using System.Buffers.Binary;

namespace FastRelay.Tests.Moq.Lab;

/// <summary>
/// The objects a lab test publishes through `moq publish --input - --framing length-prefixed --stamp`: random bodies of
/// varied length whose first 4 bytes are the object's index (so each object is recognisable in a subscriber's
/// `--output`, which holds the payloads without the test header, in arrival order).
/// </summary>
internal sealed class LabTrackObjects
{
    private readonly Dictionary<uint, int> _byPrefix = new();

    public LabTrackObjects(int count, int seed, int minBytes = 64, int maxBytes = 3000)
    {
        var random = new Random(seed);
        Objects = new byte[count][];
        for (int i = 0; i < count; i++)
        {
            var payload = new byte[random.Next(minBytes, maxBytes + 1)];
            random.NextBytes(payload);
            BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)i);
            Objects[i] = payload;
            _byPrefix.Add((uint)i, i);
        }
    }

    public byte[][] Objects { get; }

    public int Count => Objects.Length;

    /// <summary>Objects [from, to) framed for --framing length-prefixed (4-byte big-endian length + bytes).</summary>
    public byte[] Framed(int from, int to)
    {
        var stream = new MemoryStream();
        Span<byte> length = stackalloc byte[4];
        for (int i = from; i < to; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(length, (uint)Objects[i].Length);
            stream.Write(length);
            stream.Write(Objects[i]);
        }
        return stream.ToArray();
    }

    /// <summary>
    /// Splits a subscriber's --output back into objects and checks it holds exactly objects [<paramref name="from"/>,
    /// Count), each once and byte for byte. Returns the indices in arrival order; throws with the first difference.
    /// </summary>
    public List<int> VerifyOutput(byte[] output, int from, string who)
    {
        var seen = new List<int>();
        var taken = new bool[Count];
        int position = 0;
        while (position < output.Length)
        {
            if (output.Length - position < 4)
                throw new InvalidDataException($"{who}: {output.Length - position} stray byte(s) at offset {position} after {seen.Count} objects");
            var prefix = BinaryPrimitives.ReadUInt32BigEndian(output.AsSpan(position));
            if (!_byPrefix.TryGetValue(prefix, out var index))
                throw new InvalidDataException($"{who}: bytes at offset {position} (after {seen.Count} objects) start no published object");
            var expected = Objects[index];
            if (output.Length - position < expected.Length || !output.AsSpan(position, expected.Length).SequenceEqual(expected))
                throw new InvalidDataException($"{who}: object {index} at offset {position} differs from what was published");
            if (index < from)
                throw new InvalidDataException($"{who}: object {index} arrived, but only objects from {from} were expected");
            if (taken[index])
                throw new InvalidDataException($"{who}: object {index} arrived twice");
            taken[index] = true;
            seen.Add(index);
            position += expected.Length;
        }
        var missing = Enumerable.Range(from, Count - from).Where(i => !taken[i]).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"{who}: {missing.Count} object(s) missing, first {string.Join(", ", missing.Take(10))}");
        return seen;
    }
}
