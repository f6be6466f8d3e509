namespace FastRelay.Bpf;

/// <summary>How <see cref="BpfObject.Open"/> opens and later loads an object.</summary>
public sealed record BpfObjectOptions
{
    /// <summary>Overrides the object name libbpf derives from the file name (it prefixes internal maps).</summary>
    public string? ObjectName { get; init; }

    /// <summary>Directory for maps declared with LIBBPF_PIN_BY_NAME; libbpf's default is /sys/fs/bpf.</summary>
    public string? PinRootPath { get; init; }

    /// <summary>Verifier log buffer per program. The memory is reserved, not touched, so a generous size costs
    /// little; the kernel fails a load with ENOSPC when the log does not fit.</summary>
    public int VerifierLogSize { get; init; } = 16 << 20;

    /// <summary>0: no log on success, libbpf retries a failed load at level 1 to capture the reason.
    /// 1/2: full verifier trace for every program (kept in <see cref="BpfProgram.VerifierLog"/>); 4: statistics.
    /// With a level set, a log larger than <see cref="VerifierLogSize"/> fails even an acceptable program (ENOSPC).</summary>
    public uint VerifierLogLevel { get; init; }

    /// <summary>Before loading, restore the kptr type tags clang 14 drops on members pointing to
    /// <c>struct bpf_crypto_ctx</c> (<see cref="Crypto.KptrTypeTags"/>): any object that keeps crypto contexts (the
    /// crypto templates, a relay object built with EncryptedSubscribers) then loads through every ordinary loader. An
    /// object without such members is not changed. False only to show what the repair does.</summary>
    public bool RestoreKptrTags { get; init; } = true;
}
