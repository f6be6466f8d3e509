using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace FastRelay.Cli.Bench.Moq;

/// <summary>The relay kernel's seal counters (fr_quic_crypto_stats, summed over CPUs): copies sealed for encrypted
/// subscribers; copies refused because the 16-byte tag would take them past the device MTU (before taking a number: the
/// relay's stack sends that range); and copies dropped after taking a number because sealing failed (no keys, malformed,
/// a kernel crypto error: the subscriber sees a gap, the stack resends the range once it is declared lost).</summary>
public readonly record struct SealCounts(long Sealed, long TooBig, long Failed = 0);

/// <summary>
/// Reads the seal counters of a `moq relay` child process's kernel programs from outside the process. The relay does not
/// pin its maps or put these counters in its status file, so the bench finds the map among the relay's own file
/// descriptors: /proc/PID/fdinfo names each BPF map's id and shape, the kernel hands out a new fd for that id (root), and
/// the map's name confirms it. Only the relay's fds are looked at, so other relays on the machine (other labs) are never
/// read. Null from <see cref="Find"/> when the relay has no such map (an object without encrypted subscribers) or it
/// cannot be opened.
/// </summary>
public sealed unsafe partial class RelaySealCounters : IDisposable
{
    // enum fr_qc_stat (bpf-templates/crypto/fr_quic_crypto.h): FR_QC_SEALED = 0, FR_QC_NO_KEYS = 3, FR_QC_MALFORMED = 4,
    // FR_QC_CRYPTO_ERROR = 5, FR_QC_TOO_BIG = 6, FR_QC_STAT_COUNT = 8.
    private const uint SealedIndex = 0, NoKeysIndex = 3, MalformedIndex = 4, CryptoErrorIndex = 5, TooBigIndex = 6, StatCount = 8;
    private const int PerCpuArray = 6; // BPF_MAP_TYPE_PERCPU_ARRAY
    // The kernel keeps 15 characters of a map's name (BPF_OBJ_NAME_LEN 16 with the NUL): "fr_quic_crypto_stats" arrives cut.
    private const string NamePrefix = "fr_quic_crypto_";

    private int _fd;
    private readonly int _cpus;

    private RelaySealCounters(int fd, int cpus)
    {
        _fd = fd;
        _cpus = cpus;
    }

    /// <summary>The seal counters of process <paramref name="processId"/>'s kernel programs, or null (see the class).</summary>
    public static RelaySealCounters? Find(int processId)
    {
        string[] fds;
        try { fds = Directory.GetFiles($"/proc/{processId}/fdinfo"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        var cpus = libbpf_num_possible_cpus();
        if (cpus <= 0) return null;
        foreach (var info in fds)
        {
            if (MapIdOfStatsShape(info) is not { } id) continue;
            var fd = bpf_map_get_fd_by_id(id);
            if (fd < 0) continue;
            if (NameOf(fd) is { } name && name.StartsWith(NamePrefix, StringComparison.Ordinal) && name.Length >= NamePrefix.Length)
                return new RelaySealCounters(fd, cpus);
            close(fd);
        }
        return null;
    }

    /// <summary>The counters now (they only grow while the relay runs).</summary>
    public SealCounts Read()
    {
        ObjectDisposedException.ThrowIf(_fd < 0, this);
        return new(Sum(SealedIndex), Sum(TooBigIndex), Sum(NoKeysIndex) + Sum(MalformedIndex) + Sum(CryptoErrorIndex));
    }

    private long Sum(uint index)
    {
        // A per-CPU array's lookup returns one 8-byte value per possible CPU.
        var values = new ulong[_cpus];
        fixed (ulong* v = values)
            if (bpf_map_lookup_elem(_fd, &index, v) != 0) return 0;
        ulong sum = 0;
        foreach (var x in values) sum += x;
        return (long)sum;
    }

    /// <summary>The map id in an fdinfo file when it describes a per-CPU array of the stats map's shape (4-byte key,
    /// 8-byte value, FR_QC_STAT_COUNT entries); null for anything else (sockets, programs, other maps).</summary>
    private static uint? MapIdOfStatsShape(string fdinfoPath)
    {
        string text;
        try { text = File.ReadAllText(fdinfoPath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            var colon = line.IndexOf(':');
            if (colon > 0) fields[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        bool Is(string key, long expected) => fields.TryGetValue(key, out var v) && long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n == expected;
        if (!Is("map_type", PerCpuArray) || !Is("key_size", 4) || !Is("value_size", 8) || !Is("max_entries", StatCount)) return null;
        return fields.TryGetValue("map_id", out var id) && uint.TryParse(id, NumberStyles.Integer, CultureInfo.InvariantCulture, out var mapId) ? mapId : null;
    }

    private static string? NameOf(int fd)
    {
        // struct bpf_map_info: type, id, key_size, value_size, max_entries, map_flags (6 × u32), then char name[16].
        var info = stackalloc byte[128];
        new Span<byte>(info, 128).Clear();
        uint length = 128;
        if (bpf_obj_get_info_by_fd(fd, info, &length) != 0) return null;
        var name = new ReadOnlySpan<byte>(info + 24, 16);
        var end = name.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? name : name[..end]);
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) close(fd);
    }

    [LibraryImport("libbpf.so.1")] private static partial int bpf_map_get_fd_by_id(uint id);
    [LibraryImport("libbpf.so.1")] private static partial int bpf_obj_get_info_by_fd(int fd, void* info, uint* infoLength);
    [LibraryImport("libbpf.so.1")] private static partial int bpf_map_lookup_elem(int fd, void* key, void* value);
    [LibraryImport("libbpf.so.1")] private static partial int libbpf_num_possible_cpus();
    [LibraryImport("libc", SetLastError = true)] private static partial int close(int fd);
}
