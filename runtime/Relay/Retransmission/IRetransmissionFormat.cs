namespace FastRelay.Relay.Retransmission;

/// <summary>A retransmission request as a protocol's format reads it: the channel and the range of sequence numbers
/// [<see cref="First"/>, <see cref="First"/> + <see cref="Count"/>) the requester missed.</summary>
public readonly record struct RetransmitRequest(ulong Channel, ulong First, ulong Count);

/// <summary>Where a kept upstream packet sits in its channel's sequence: the numbers [First, First + Count) it carries
/// (one per datagram for most protocols; MoldUDP64 advances by its message count).</summary>
public readonly record struct SequenceSpan(ulong Channel, ulong First, ulong Count);

/// <summary>
/// The plug-in point of the retransmission service: what the host cannot know about a protocol's re-request scheme.
/// A format reads its protocol's request datagrams and says which sequence numbers an upstream packet carries; the host
/// keeps the upstream packets (<see cref="UpstreamRing"/>), looks the requested ones up and sends them, unchanged, to
/// the requester within its budget (<see cref="RetransmissionService"/>). Both methods see hostile input: they must
/// bound every read by the span and refuse what does not fit their layout exactly.
/// </summary>
public interface IRetransmissionFormat
{
    /// <summary>The name the configuration file uses ("moldudp64").</summary>
    string Name { get; }

    /// <summary>Reads a request. Returns null and the request when it is well formed, otherwise why it is refused
    /// (logged and counted, never answered).</summary>
    string? TryParseRequest(ReadOnlySpan<byte> datagram, out RetransmitRequest request);

    /// <summary>The sequence numbers an upstream packet the relay forwarded carries; false for packets that carry none
    /// worth keeping (heartbeats, end of session) or do not fit the layout.</summary>
    bool TryDescribe(ReadOnlySpan<byte> upstream, out SequenceSpan span);

    /// <summary>Whether a kept packet may answer the request (beyond channel and numbers: MoldUDP64 compares the whole
    /// 10-byte session, of which the channel key holds 8).</summary>
    bool Answers(ReadOnlySpan<byte> request, ReadOnlySpan<byte> kept);
}

/// <summary>The formats the configuration file can name; a program using the C# API passes its own instead.</summary>
public static class RetransmissionFormats
{
    public static IReadOnlyList<string> Names { get; } = [MoldUdp64Retransmission.FormatName];

    public static IRetransmissionFormat? Find(string name) =>
        string.Equals(name, MoldUdp64Retransmission.FormatName, StringComparison.OrdinalIgnoreCase) ? new MoldUdp64Retransmission() : null;
}
