using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using FastRelay.Bpf.Native;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastRelay.Bpf;

/// <summary>
/// Routes libbpf's print callback to Microsoft.Extensions.Logging (category <c>FastRelay.Bpf.libbpf</c>).
/// Until <see cref="Use"/> is called messages are only captured (never written to stderr): the last few are kept in
/// <see cref="Recent"/>, and warnings raised during a runtime call are attached to the exception it throws.
/// </summary>
public static unsafe class LibBpfLog
{
    public const string Category = "FastRelay.Bpf.libbpf";
    private const int RecentCapacity = 64;

    private static volatile ILogger s_logger = NullLogger.Instance;
    private static readonly Queue<string> s_recent = new();
    private static int s_installed;

    // libbpf calls the print hook synchronously on the calling thread, so a thread-static list scopes warnings to
    // the runtime call that caused them.
    [ThreadStatic] private static List<string>? t_capture;

    /// <summary>Sends libbpf messages to <paramref name="factory"/>; null returns to capture-only.</summary>
    public static void Use(ILoggerFactory? factory)
    {
        s_logger = factory?.CreateLogger(Category) ?? NullLogger.Instance;
        Install();
    }

    /// <summary>The most recent libbpf messages (any level), oldest first.</summary>
    public static IReadOnlyList<string> Recent
    {
        get { lock (s_recent) return s_recent.ToArray(); }
    }

    internal static void Install()
    {
        if (Interlocked.Exchange(ref s_installed, 1) == 0)
            LibBpf.libbpf_set_print((nint)(delegate* unmanaged[Cdecl]<int, byte*, nint, int>)&OnPrint);
    }

    /// <summary>Collects libbpf warnings printed on this thread until disposed.</summary>
    /// <param name="quiet">Keep the warnings out of the log too: for probes whose failures are expected (e.g. asking a
    /// device without a clsact qdisc for our filters), which would otherwise log kernel errors on every start.</param>
    internal static WarningCapture CaptureWarnings(bool quiet = false) => new(quiet);

    [ThreadStatic] private static bool t_quiet;

    internal sealed class WarningCapture : IDisposable
    {
        private readonly List<string>? _previous = t_capture;
        private readonly bool _previousQuiet = t_quiet;
        public List<string> Warnings { get; } = [];
        public WarningCapture(bool quiet)
        {
            t_capture = Warnings;
            t_quiet = quiet || _previousQuiet;
        }

        public void Dispose()
        {
            t_capture = _previous;
            t_quiet = _previousQuiet;
            _previous?.AddRange(Warnings);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnPrint(int level, byte* format, nint args)
    {
        // An exception must never unwind into libbpf's native frames.
        try
        {
            string text = Format(format, args).TrimEnd('\n');
            var logLevel = level switch { 0 => LogLevel.Warning, 1 => LogLevel.Information, _ => LogLevel.Debug };
            if (level == 0) t_capture?.Add(text);
            if (level <= 1)
            {
                lock (s_recent)
                {
                    if (s_recent.Count == RecentCapacity) s_recent.Dequeue();
                    s_recent.Enqueue(text);
                }
            }
            var logger = s_logger;
            if (!(t_quiet && level == 0) && logger.IsEnabled(logLevel)) logger.Log(logLevel, "{LibBpfMessage}", text);
        }
        catch
        {
            // Dropping one log line is better than crashing the process.
        }
        return 0;
    }

    /// <summary>Formats libbpf's printf-style message with libc's vsnprintf. A va_list can be walked only once, so
    /// a copy (what va_copy does on x86-64/arm64: copy the tag struct) is kept for the rare long-message retry.</summary>
    private static string Format(byte* format, nint args)
    {
        int vaSize = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 24,
            Architecture.Arm64 => 32,
            _ => 0,
        };
        byte* copy = stackalloc byte[32];
        if (vaSize > 0) Buffer.MemoryCopy((void*)args, copy, 32, vaSize);

        const int Small = 1024;
        byte* buf = stackalloc byte[Small];
        int n = LibC.vsnprintf(buf, Small, format, args);
        if (n < 0) return string.Empty;
        if (n < Small || vaSize == 0) return Encoding.UTF8.GetString(buf, Math.Min(n, Small - 1));

        var big = new byte[n + 1];
        fixed (byte* p = big)
        {
            int m = LibC.vsnprintf(p, (nuint)big.Length, format, (nint)copy);
            return Encoding.UTF8.GetString(p, Math.Clamp(m, 0, n));
        }
    }
}
