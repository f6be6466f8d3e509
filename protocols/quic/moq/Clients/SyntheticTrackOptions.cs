namespace FastRelay.Protocols.Moq.Clients;

/// <summary>The shape of a synthetic video-like track.</summary>
public sealed record SyntheticTrackOptions
{
    /// <summary>Target payload bitrate in bits per second (object payloads, headers included; not MoQ/QUIC framing).</summary>
    public long BitrateBitsPerSecond { get; init; } = 2_000_000;

    /// <summary>Frames (objects) per second.</summary>
    public double FramesPerSecond { get; init; } = 30;

    /// <summary>Frames per group: one key object followed by GOP - 1 delta objects.</summary>
    public int GopFrames { get; init; } = 60;

    /// <summary>How many times larger the key object is than a delta object.</summary>
    public double KeyFrameRatio { get; init; } = 8;

    public SubgroupLayout Layout { get; init; } = SubgroupLayout.PerLayer;

    /// <summary>Temporal layers with <see cref="SubgroupLayout.PerLayer"/> (key layer included), 2..8.</summary>
    public int Layers { get; init; } = 2;

    /// <summary>Publisher priority of the key object's subgroup (0 = most urgent, 255 = least).</summary>
    public byte KeyPriority { get; init; } = 64;

    /// <summary>How much less urgent each layer above the key layer is.</summary>
    public byte LayerPriorityStep { get; init; } = 32;

    /// <summary>First group id (a publisher restarting a track continues above the groups it published before).</summary>
    public ulong FirstGroup { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> with a message naming the CLI option when a value is out of range.</summary>
    public void Validate()
    {
        if (BitrateBitsPerSecond <= 0) throw new ArgumentException("--bitrate must be > 0 bits/s");
        if (!(FramesPerSecond > 0) || FramesPerSecond > 100_000) throw new ArgumentException("--fps must be > 0 and ≤ 100000");
        if (GopFrames < 1 || GopFrames > 1_000_000) throw new ArgumentException("--gop must be 1..1000000 frames");
        if (!(KeyFrameRatio >= 1) || KeyFrameRatio > 10_000) throw new ArgumentException("--key-ratio must be 1..10000");
        if (Layout == SubgroupLayout.PerLayer && (Layers < 2 || Layers > 8)) throw new ArgumentException("--layers must be 2..8");
        if (Layout == SubgroupLayout.PerLayer && KeyPriority + (Layers - 1) * LayerPriorityStep > 255)
            throw new ArgumentException("--key-priority plus one step per layer must stay ≤ 255");
    }
}
