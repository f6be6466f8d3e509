using FastRelay.Protocols.Moq.Clients;

namespace FastRelay.Cli.Bench.Moq;

/// <summary>What a fast-path relay's kernel forwarded so far (counters only grow), and the kernel time its upstream
/// ingress program took, clones included, with its runs (0 unless kernel.bpf_stats_enabled is 1); and, where the relay's
/// object seals copies for encrypted subscribers, its seal counters (null otherwise). <paramref name="SnapshotUs"/> is when the
/// relay took the snapshot (CLOCK_REALTIME µs, 0 when unknown): a relay answering late under load moves the counters' edge
/// by up to a second, and a share of a 2 s window must be taken over the stretch the counters really cover.</summary>
public readonly record struct KernelForwarded(long Bytes, long Packets, long RunTimeNs = 0, long Runs = 0, SealCounts? Seals = null, long SnapshotUs = 0);

/// <summary>The kernel's seal counters (the relay's status, <c>FastPath.Seal</c>): copies sealed for encrypted subscribers,
/// refused for want of room for the tag, and dropped because sealing failed.</summary>
public readonly record struct SealCounts(long Sealed, long TooBig, long Failed = 0);

/// <summary>The relay under measurement: where to reach it and how much CPU it has used so far.</summary>
public interface IMoqBenchRelay : IAsyncDisposable
{
    /// <summary>Where the publisher connects.</summary>
    MoqUrl Url { get; }

    /// <summary>Where subscribers connect (another interface of a lab relay).</summary>
    MoqUrl SubscriberUrl => Url;

    /// <summary>The relay runs the QUIC kernel fast path: the bench's clients offer it too (--fast-path).</summary>
    bool FastPath => false;

    /// <summary>The subscribers keep full 1-RTT protection (they do not offer 0xBAAD) while the publisher offers the
    /// clear-text fast path as an operator's own publisher does (`bench --encrypted`): on a fast-path relay each subscriber
    /// gets a sealed kernel slot; a userspace relay declines the publisher's offer, so there every connection is encrypted.</summary>
    bool EncryptedSubscribers => false;

    /// <summary>Stream bytes and packets the kernel forwarded so far (fast path only; null otherwise or when unreadable).</summary>
    KernelForwarded? ReadKernelForwarded() => null;

    /// <summary>The relay's process (its syscalls are counted), or null when it runs in the bench's own process.</summary>
    int? ProcessId => null;

    /// <summary>"process PID" or "in-process": said in the report.</summary>
    string Description { get; }

    /// <summary>CPU time the relay has used so far (only <see cref="ProcessCpuTime.Difference"/>s between readings mean anything).</summary>
    ProcessCpuTime ReadCpu();

    /// <summary>Everything the relay logged, for an error message when a run fails.</summary>
    string Log { get; }
}
