using System.Text.Json;
using Xunit;

namespace FastRelay.Tests.Quic.Qlog;

/// <summary>
/// Strict reader of a JSON-SEQ qlog (RFC 7464): every record must be 0x1E, one JSON value, LF — anything else fails the
/// test. Gives the header and the events as JsonElements (cloned, so the documents can go).
/// </summary>
internal sealed class QlogReader
{
    public required JsonElement Header { get; init; }
    public required List<JsonElement> Events { get; init; }

    public static QlogReader Parse(byte[] bytes)
    {
        Assert.NotEmpty(bytes);
        Assert.Equal(0x1E, bytes[0]);
        var records = new List<JsonElement>();
        int start = 0;
        while (start < bytes.Length)
        {
            Assert.Equal(0x1E, bytes[start]);
            int next = Array.IndexOf(bytes, (byte)0x1E, start + 1);
            int end = next < 0 ? bytes.Length : next;
            Assert.Equal((byte)'\n', bytes[end - 1]);
            // The JSON text itself contains no raw LF: one line per record.
            Assert.Equal(-1, Array.IndexOf(bytes, (byte)'\n', start + 1, end - 1 - (start + 1)));
            using var doc = JsonDocument.Parse(bytes.AsMemory(start + 1, end - start - 2));
            Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
            records.Add(doc.RootElement.Clone());
            start = end;
        }
        return new QlogReader { Header = records[0], Events = records.Skip(1).ToList() };
    }

    public static QlogReader Parse(MemoryStream stream) => Parse(stream.ToArray());

    public IEnumerable<JsonElement> Named(string name) => Events.Where(e => e.GetProperty("name").GetString() == name);

    public static JsonElement Data(JsonElement e) => e.GetProperty("data");

    /// <summary>(packet_type, packet_number) of a packet event.</summary>
    public static (string Type, ulong Number) PacketId(JsonElement e)
    {
        var header = Data(e).GetProperty("header");
        return (header.GetProperty("packet_type").GetString()!, header.GetProperty("packet_number").GetUInt64());
    }

    public static IEnumerable<JsonElement> Frames(JsonElement e) =>
        Data(e).TryGetProperty("frames", out var frames) ? frames.EnumerateArray() : [];
}
