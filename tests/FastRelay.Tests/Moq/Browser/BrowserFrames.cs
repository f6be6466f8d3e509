using System.Text.Json;
using FastRelay.Protocols.Moq.Clients;

namespace FastRelay.Tests.Moq.Browser;

/// <summary>
/// The frames a browser page returned (group, index in the group, arrival µs, payload), checked in C# with the same
/// <see cref="ObjectChecker"/> `moq subscribe` uses: integrity (length, XxHash64), location (the header's group/object
/// equal where @moq/net delivered it), gaps and duplicates; plus the track sequence numbers in arrival order.
/// </summary>
internal sealed class BrowserFrames
{
    public ObjectChecker Checker { get; } = new();
    public List<ulong> Sequences { get; } = [];

    public static BrowserFrames Check(JsonElement frames)
    {
        var result = new BrowserFrames();
        foreach (var frame in frames.EnumerateArray())
        {
            var payload = Convert.FromBase64String(frame.GetProperty("p").GetString()!);
            result.Checker.Check(new ReceivedObject(
                GroupId: frame.GetProperty("g").GetUInt64(),
                SubgroupId: 0,
                ObjectId: frame.GetProperty("o").GetUInt64(),
                PublisherPriority: 0,
                Payload: payload,
                ReceivedAtMicroseconds: frame.GetProperty("t").GetInt64()));
            if (ObjectPayloadHeader.TryReadUnverified(payload, out var header))
                result.Sequences.Add(header.TrackSequence);
        }
        return result;
    }
}
