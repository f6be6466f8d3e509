using FastRelay.Protocols.Moq.Wire.Data;

namespace FastRelay.Protocols.Moq.Session;

/// <summary>
/// Sees the raw bytes of incoming subgroup streams, exactly as they arrived, with their stream offsets: what the QUIC
/// kernel fast path needs (the relay maps the upstream stream to a channel once it knows the header, and writes every
/// later byte unchanged on its subscribers' streams as shadow copies; docs/quic-fast-path.md "Relay glue"). Set through
/// <see cref="MoqSessionOptions.SubgroupTap"/>; without it nothing is tapped. Called on the stream's reading task: keep
/// it short, never block, never throw (an exception
/// fails the session with INTERNAL_ERROR).
/// </summary>
public interface IMoqSubgroupTap
{
    /// <summary>
    /// A subgroup stream's header was parsed (before its objects are). <paramref name="rawHeader"/> is the header as on
    /// the wire (its length is the offset of the first object). Return a tap for the rest of the stream, or null to
    /// ignore it.
    /// </summary>
    IMoqSubgroupStreamTap? OnSubgroupStream(long streamId, MoqSubgroupHeader header, ReadOnlySpan<byte> rawHeader);
}

/// <summary>The rest of one tapped subgroup stream.</summary>
public interface IMoqSubgroupStreamTap
{
    /// <summary>Bytes at stream offset <paramref name="offset"/>, in order and without gaps, as the session reads them.</summary>
    void OnBytes(long offset, ReadOnlySpan<byte> bytes);

    /// <summary>The session stopped reading: <paramref name="finished"/> when the stream ended with FIN after the last
    /// byte given, false when it was reset, abandoned or cut by the session's end.</summary>
    void OnEnd(bool finished);
}
