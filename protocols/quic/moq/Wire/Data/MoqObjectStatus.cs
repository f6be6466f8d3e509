namespace FastRelay.Protocols.Moq.Wire.Data;

/// <summary>Object Status (draft-19 §"Object Status"); only Normal may carry a payload or properties.</summary>
public enum MoqObjectStatus : ulong
{
    Normal = 0x0,
    EndOfGroup = 0x3,
    EndOfTrack = 0x4,
}

/// <summary>How an object travels: on a subgroup stream or as a datagram (Object Forwarding Preference).</summary>
public enum MoqForwardingPreference
{
    Subgroup,
    Datagram,
}

/// <summary>What a receiver is willing to buffer for one object; checked before anything is allocated or awaited.</summary>
public sealed record MoqDataLimits
{
    /// <summary>Largest Object Payload Length accepted on a stream (the whole payload is buffered to deliver it).</summary>
    public int MaxObjectPayload { get; init; } = 16 * 1024 * 1024;

    /// <summary>Largest Object Properties Length accepted.</summary>
    public int MaxPropertiesLength { get; init; } = 64 * 1024;

    public static MoqDataLimits Default { get; } = new();
}
