namespace FastRelay.Protocols.CustomUdp.Relay;

/// <summary>Settings of one custom-UDP relay.</summary>
public sealed record RelayOptions
{
    public string Name { get; init; } = "custom-udp";

    public int Port { get; init; } = CustomUdpHeaderFastPath.UdpPort;

    public int MaxSubscribers { get; init; } = CustomUdpHeaderFastPath.MaxSubscribers;

    public int MaxChannels { get; init; } = CustomUdpHeaderFastPath.MaxChannels;

    /// <summary>A subscriber silent for this long is removed.</summary>
    public TimeSpan SubscriberTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>A subscriber sent no DATA for this long gets its REPLY again in answer to its next FEEDBACK (at most once
    /// per this period): subscribers start over after a second without anything from the relay (see
    /// <see cref="IdleKeepalive"/>), and a quiet channel must not make them.</summary>
    public TimeSpan KeepaliveAfter { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Packets kept per channel for NACK repair and late joiners.</summary>
    public int CachePacketsPerChannel { get; init; } = 8192;

    /// <summary>Most repairs one NACK can get (its numbers are clamped to the cache, de-duplicated, then capped).</summary>
    public int MaxRepairsPerNack { get; init; } = 512;

    /// <summary>Repair bytes a subscriber may get at once, and per second after that (a token bucket per subscriber):
    /// NACKs from its address, its own or spoofed, cannot make the relay send it more.</summary>
    public long RepairBurstBytes { get; init; } = 1 << 20;

    public long RepairBytesPerSecond { get; init; } = 4 << 20;

    /// <summary>How often budgets are refilled from the subscribers' feedback.</summary>
    public TimeSpan BudgetPeriod { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How long the receive loop lets packets gather after each batch (0: none). Worth it only when userspace is
    /// off the data path (the fast path); it delays control messages and repairs by at most this much.</summary>
    public TimeSpan ReceiveCoalescing { get; init; } = TimeSpan.Zero;

    /// <summary>Where the relay writes its status (JSON) for `fastrelay status`; null: nowhere.</summary>
    public string? StatusFile { get; init; }

    /// <summary>Describes what the relay has put into the kernel (programs and where they are attached), for status.</summary>
    public Func<IReadOnlyList<string>>? Attachments { get; init; }
}
