using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using FastRelay.Protocols.Moq.Wire.Messages;
using Xunit;

namespace FastRelay.Tests.Moq.Wire;

/// <summary>
/// Seeded fuzzing of every parser: random bytes and mutations of valid encodings. Each parse must return (never throw),
/// give either a value or an error, and allocate a bounded amount regardless of the lengths the bytes claim.
/// </summary>
public class MoqWireFuzzTests
{
    private const int Iterations = 3000;
    private const long AllocationBound = 512 * 1024;

    private static IEnumerable<byte[]> Inputs(int seed, IReadOnlyList<byte[]> valid)
    {
        var rng = new Random(seed);
        for (int i = 0; i < Iterations; i++)
        {
            if (valid.Count == 0 || rng.Next(3) == 0)
            {
                var random = new byte[rng.Next(0, 64)];
                rng.NextBytes(random);
                // Sometimes start with a huge varint, the classic hostile length.
                if (random.Length > 9 && rng.Next(4) == 0) random[rng.Next(random.Length - 9)] = 0xFF;
                yield return random;
                continue;
            }
            var bytes = (byte[])valid[rng.Next(valid.Count)].Clone();
            int mutations = rng.Next(1, 4);
            for (int m = 0; m < mutations && bytes.Length > 0; m++)
            {
                switch (rng.Next(4))
                {
                    case 0: bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256); break;
                    case 1: bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8)); break;
                    case 2: bytes = bytes[..rng.Next(bytes.Length)]; break;
                    default:
                        int at = rng.Next(bytes.Length);
                        bytes = bytes[..at].Concat(new[] { (byte)rng.Next(256) }).Concat(bytes[at..]).ToArray();
                        break;
                }
            }
            yield return bytes;
        }
    }

    private static void Bounded(Action parse)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        parse();
        long used = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(used < AllocationBound, $"parse allocated {used} bytes");
    }

    [Fact]
    public void ControlMessages()
    {
        var valid = MoqMessageSamples.All().Select(m => m.Encode()).ToList();
        int parsed = 0;
        foreach (var input in Inputs(1, valid))
        {
            Bounded(() =>
            {
                if (MoqControlMessageCodec.TryParse(input, out var message, out _, out var error)) { Assert.NotNull(message); parsed++; }
                else Assert.False(error.IsNone);
            });
        }
        Assert.True(parsed > 0, "mutations never produced a valid message: the fuzzer is not exercising the success path");
    }

    [Fact]
    public void SubgroupStreams()
    {
        var valid = new List<byte[]>();
        foreach (int type in Enumerable.Range(0, 128).Where(t => MoqSubgroupHeader.IsSubgroupType((ulong)t)))
        {
            var mode = (MoqSubgroupIdMode)((type & 6) >> 1);
            var header = new MoqSubgroupHeader(1, 2, mode, 3, (type & 0x20) != 0 ? null : (byte)4, (type & 1) != 0, (type & 8) != 0, (type & 0x40) != 0);
            var w = new MoqWriter();
            header.Write(w);
            var ow = new MoqSubgroupObjectWriter(header);
            ow.Write(w, 0, "abc"u8, properties: header.HasProperties ? new[] { MoqKeyValuePair.FromBytes(5, new byte[] { 1 }) } : null);
            ow.Write(w, 3, ReadOnlySpan<byte>.Empty, MoqObjectStatus.EndOfGroup);
            valid.Add(w.ToArray());
        }
        var limits = new MoqDataLimits { MaxObjectPayload = 4096, MaxPropertiesLength = 1024 };
        foreach (var input in Inputs(2, valid))
        {
            Bounded(() =>
            {
                var status = MoqStreamHeader.TryParse(input, out var kind, out var header, out _, out int consumed, out var error);
                if (status == MoqParseStatus.Malformed) { Assert.False(error.IsNone); return; }
                if (status != MoqParseStatus.Complete || kind != MoqStreamKind.Subgroup) return;
                var reader = new MoqSubgroupObjectReader(header!, limits: limits);
                var rest = input.AsMemory(consumed);
                while (!rest.IsEmpty)
                {
                    var s = reader.TryRead(rest, out var obj, out int used, out int needed, out var e);
                    if (s == MoqParseStatus.Complete) { Assert.True(used > 0); rest = rest[used..]; continue; }
                    if (s == MoqParseStatus.NeedMoreData) Assert.True(needed > rest.Length && needed <= rest.Length + limits.MaxObjectPayload + 64);
                    else Assert.False(e.IsNone);
                    break;
                }
            });
        }
    }

    [Fact]
    public void FetchStreams()
    {
        var valid = new List<byte[]>();
        var w = new MoqWriter();
        var fw = new MoqFetchObjectWriter();
        fw.Write(w, new MoqObject { GroupId = 1, SubgroupId = 2, ObjectId = 3, PublisherPriority = 4, Payload = new byte[] { 1, 2 } });
        fw.Write(w, new MoqObject { GroupId = 1, SubgroupId = 3, ObjectId = 4, PublisherPriority = 4, Payload = new byte[] { 1 }, Properties = new[] { MoqKeyValuePair.FromInt(2, 2) } });
        fw.WriteEndOfRange(w, new MoqLocation(5, 0), true);
        fw.Write(w, new MoqObject { GroupId = 5, SubgroupId = null, ObjectId = 1, PublisherPriority = 9 });
        valid.Add(w.ToArray());
        var limits = new MoqDataLimits { MaxObjectPayload = 4096, MaxPropertiesLength = 1024 };
        foreach (var input in Inputs(3, valid))
        {
            Bounded(() =>
            {
                var reader = new MoqFetchObjectReader(input.Length % 2 == 0 ? MoqGroupOrder.Ascending : MoqGroupOrder.Descending, limits);
                var rest = input.AsMemory();
                while (!rest.IsEmpty)
                {
                    var s = reader.TryRead(rest, out var obj, out var range, out int used, out _, out var e);
                    if (s == MoqParseStatus.Complete) { Assert.True(obj is not null ^ range is not null); rest = rest[used..]; continue; }
                    if (s is MoqParseStatus.Malformed or MoqParseStatus.TooLarge) Assert.False(e.IsNone);
                    break;
                }
            });
        }
    }

    [Fact]
    public void Datagrams()
    {
        var valid = new List<byte[]>();
        foreach (ulong id in new ulong[] { 0, 5 })
        foreach (bool eog in new[] { false, true })
        {
            var w = new MoqWriter();
            MoqObjectDatagram.Write(w, 1, new MoqObject { GroupId = 2, ObjectId = id, PublisherPriority = 3, Payload = new byte[] { 7, 7 }, Properties = new[] { MoqKeyValuePair.FromInt(4, 4) } }, eog);
            valid.Add(w.ToArray());
        }
        foreach (var input in Inputs(4, valid))
            Bounded(() =>
            {
                if (!MoqObjectDatagram.TryParse(input, 0, out _, out var obj, out _, out bool padding, out var error)) Assert.False(error.IsNone);
                else Assert.True(padding || obj is not null);
            });
    }

    [Fact]
    public void KeyValueListsAndNamespaces()
    {
        var kv = new MoqWriter();
        MoqKeyValueList.Write(kv, new[] { MoqKeyValuePair.FromInt(2, 300), MoqKeyValuePair.FromBytes(3, new byte[] { 1, 2, 3 }) });
        var ns = new MoqWriter();
        MoqTrackNamespace.FromStrings("a", "bc").Write(ns);
        foreach (var input in Inputs(5, new[] { kv.ToArray(), ns.ToArray() }))
        {
            Bounded(() =>
            {
                if (!MoqKeyValueList.TryParse(input, new List<MoqKeyValuePair>(), out var e1)) Assert.False(e1.IsNone);
                var r = new MoqReader(input);
                if (!MoqTrackNamespace.TryRead(ref r, out _, out var e2)) Assert.False(e2.IsNone);
                r = new MoqReader(input);
                if (!MoqFullTrackName.TryRead(ref r, out _, out var e3)) Assert.False(e3.IsNone);
            });
        }
    }

    [Fact]
    public void SerializedNames()
    {
        var rng = new Random(6);
        const string alphabet = "ab_Z09-.-.2e.61.A0.ff";
        for (int i = 0; i < Iterations; i++)
        {
            var chars = Enumerable.Range(0, rng.Next(0, 20)).Select(_ => alphabet[rng.Next(alphabet.Length)]).ToArray();
            string text = new(chars);
            // Parse must never throw, and whatever parses must serialize back to the same text (bijective).
            if (MoqNameFormat.TryParse(text, out var name)) Assert.Equal(text, name.ToString());
            if (MoqNameFormat.TryParseNamespace(text, out var ns)) Assert.Equal(text, ns.ToString());
        }
    }
}
