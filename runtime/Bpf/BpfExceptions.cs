using System.Text;
using FastRelay.Bpf.Native;

namespace FastRelay.Bpf;

/// <summary>A libbpf or bpf(2) failure. <see cref="Errno"/> is the positive errno (or LIBBPF_ERRNO__*);
/// the message uses libbpf_strerror and, when available, libbpf's own warnings from the failed call.</summary>
public class BpfException : Exception
{
    public BpfException(string operation, int errno, IReadOnlyList<string>? libbpfWarnings = null, Exception? inner = null)
        : base(Compose(operation, errno, libbpfWarnings), inner)
    {
        Operation = operation;
        Errno = errno;
        LibBpfWarnings = libbpfWarnings ?? [];
    }

    protected BpfException(string message, string operation, int errno, IReadOnlyList<string>? libbpfWarnings)
        : base(message)
    {
        Operation = operation;
        Errno = errno;
        LibBpfWarnings = libbpfWarnings ?? [];
    }

    public string Operation { get; }
    public int Errno { get; }
    /// <summary>Warnings libbpf printed on this thread while the failed operation ran.</summary>
    public IReadOnlyList<string> LibBpfWarnings { get; }

    private static string Compose(string operation, int errno, IReadOnlyList<string>? warnings)
    {
        var sb = new StringBuilder($"{operation} failed: {BpfError.Describe(errno)} (errno {errno})");
        if (warnings is { Count: > 0 })
        {
            sb.Append("; libbpf: ");
            sb.AppendJoin(" | ", warnings);
        }
        return sb.ToString();
    }
}

/// <summary>The kernel verifier rejected <see cref="ProgramName"/>; <see cref="VerifierLog"/> is its full log.</summary>
public sealed class BpfLoadException : BpfException
{
    public BpfLoadException(string programName, int errno, string verifierLog, IReadOnlyList<string>? libbpfWarnings)
        : base($"BPF program '{programName}' was rejected: {BpfError.Describe(errno)} (errno {errno}).\n" +
               (errno == LibC.ENOSPC ? "(verifier log truncated: raise BpfObjectOptions.VerifierLogSize)\n" : "") +
               $"--- verifier log ---\n{verifierLog}\n--- end verifier log ---",
               $"load program {programName}", errno, libbpfWarnings)
    {
        ProgramName = programName;
        VerifierLog = verifierLog;
    }

    public string ProgramName { get; }
    public string VerifierLog { get; }
}

/// <summary>A typed map view whose CLR key/value sizes disagree with the kernel map.</summary>
public sealed class BpfMapLayoutException(string message) : Exception(message);

/// <summary>Another live process owns the relay instance (its pin directory is locked): starting a second relay under
/// the same name would remove the live one's pins.</summary>
public sealed class BpfInstanceBusyException(string instance, string path)
    : IOException($"relay instance '{instance}' is in use by another process ({path} is locked); stop it or choose another instance name")
{
    public string Instance { get; } = instance;
}

/// <summary>One difference between a generated layout and the object's BTF.</summary>
public sealed record LayoutMismatch(string Struct, string? Member, string Kind, long Expected, long Actual)
{
    public override string ToString()
    {
        var where = Member is null ? Struct : $"{Struct}.{Member}";
        if (Actual < 0) return $"{where}: {Kind} (generated {Expected})";
        if (Expected < 0) return $"{where}: {Kind} {Actual}";
        return $"{where}: {Kind} expected {Expected}, BTF has {Actual}";
    }
}

/// <summary>The compiled object's BTF disagrees with the C# layouts; <see cref="Mismatches"/> lists every difference.</summary>
public sealed class LayoutMismatchException(IReadOnlyList<LayoutMismatch> mismatches)
    : Exception($"{mismatches.Count} layout mismatch(es) between generated C# structs and BTF:\n  " +
                string.Join("\n  ", mismatches))
{
    public IReadOnlyList<LayoutMismatch> Mismatches { get; } = mismatches;
}
