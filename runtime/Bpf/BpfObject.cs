using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using FastRelay.Bpf.Native;

namespace FastRelay.Bpf;

/// <summary>
/// A BPF ELF object opened through libbpf: its programs, maps and BTF. Open, adjust (e.g. <see cref="BpfProgram.Autoload"/>),
/// then <see cref="Load"/>. Disposing closes every program and map fd the object created; programs, maps and ring
/// buffer readers obtained from it are unusable afterwards (a reader still running keeps the object alive until it
/// is disposed).
/// </summary>
public sealed unsafe partial class BpfObject : IDisposable
{
    private readonly BpfObjectOptions _options;
    private readonly List<BpfProgram> _programs = [];
    private readonly List<BpfMap> _maps = [];

    internal BpfObjectHandle Handle { get; }
    internal nint Ptr { get; }

    private BpfObject(BpfObjectHandle handle, nint ptr, string path, BpfObjectOptions options)
    {
        Handle = handle;
        Ptr = ptr;
        Path = path;
        _options = options;
        Name = LibBpf.Str(LibBpf.bpf_object__name(ptr));
        for (nint p = LibBpf.bpf_object__next_program(ptr, 0); p != 0; p = LibBpf.bpf_object__next_program(ptr, p))
            _programs.Add(new BpfProgram(this, p));
        for (nint m = LibBpf.bpf_object__next_map(ptr, 0); m != 0; m = LibBpf.bpf_object__next_map(ptr, m))
            _maps.Add(new BpfMap(this, m));
        Btf = new BpfBtf(this, LibBpf.bpf_object__btf(ptr));
    }

    public string Path { get; }
    public string Name { get; }
    public bool IsLoaded { get; private set; }
    private bool _loadAttempted;
    public IReadOnlyList<BpfProgram> Programs => _programs;
    /// <summary>Every map, including libbpf's internal .data/.bss/.rodata maps.</summary>
    public IReadOnlyList<BpfMap> Maps => _maps;
    /// <summary>The object's own BTF (from the ELF's .BTF section); <see cref="BpfBtf.IsAvailable"/> is false without -g.</summary>
    public BpfBtf Btf { get; }

    /// <summary>Parses the ELF file; nothing reaches the kernel until <see cref="Load"/>.</summary>
    public static BpfObject Open(string path, BpfObjectOptions? options = null)
    {
        options ??= new BpfObjectOptions();
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException("BPF object not found", full);

        nint name = Marshal.StringToCoTaskMemUTF8(options.ObjectName);
        nint pin = Marshal.StringToCoTaskMemUTF8(options.PinRootPath);
        try
        {
            var opts = new BpfObjectOpenOpts
            {
                Sz = (nuint)sizeof(BpfObjectOpenOpts),
                ObjectName = (byte*)name,
                PinRootPath = (byte*)pin,
            };
            using var capture = LibBpfLog.CaptureWarnings();
            nint obj = LibBpf.bpf_object__open_file(full, &opts);
            if (obj == 0)
                throw new BpfException($"open {full}", Marshal.GetLastPInvokeError(), capture.Warnings);
            return new BpfObject(new BpfObjectHandle(obj), obj, full, options);
        }
        finally
        {
            Marshal.FreeCoTaskMem(name);
            Marshal.FreeCoTaskMem(pin);
        }
    }

    /// <summary>Opens and loads in one step.</summary>
    public static BpfObject Load(string path, BpfObjectOptions? options = null)
    {
        var obj = Open(path, options);
        try
        {
            obj.Load();
            return obj;
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }

    /// <summary>Creates maps and loads every autoload program. A program the verifier rejects raises
    /// <see cref="BpfLoadException"/> with its name and full verifier log. libbpf allows one attempt per object.</summary>
    public void Load()
    {
        using var lease = new Lease(Handle);
        if (_loadAttempted) throw new InvalidOperationException($"BPF object '{Name}' was already loaded (libbpf allows one attempt)");
        if (_options.RestoreKptrTags) Crypto.KptrTypeTags.TagMembersPointingTo(this, Crypto.QuicKernelCrypto.CryptoContextStruct);
        var logs = new Dictionary<BpfProgram, nint>();
        using var capture = LibBpfLog.CaptureWarnings();
        try
        {
            foreach (var p in _programs.Where(p => p.Autoload))
            {
                // Kernel writes only what it logs, so the untouched rest of a large malloc stays unbacked.
                byte* buf = (byte*)NativeMemory.Alloc((nuint)_options.VerifierLogSize);
                buf[0] = 0;
                logs[p] = (nint)buf;
                BpfError.Check(LibBpf.bpf_program__set_log_buf(p.Ptr, buf, (nuint)_options.VerifierLogSize), "set log buffer");
                BpfError.Check(LibBpf.bpf_program__set_log_level(p.Ptr, _options.VerifierLogLevel), "set log level");
            }

            int err = LibBpf.bpf_object__load(Ptr);
            _loadAttempted = true; // libbpf refuses a second attempt either way
            IsLoaded = err >= 0;
            foreach (var (p, buf) in logs)
            {
                var text = Marshal.PtrToStringUTF8(buf) ?? "";
                if (text.Length > 0) p.VerifierLog = text;
            }
            if (err < 0) throw LoadFailure(-err, capture.Warnings);
        }
        finally
        {
            // libbpf keeps the pointers but never reads them after the load attempt.
            foreach (var buf in logs.Values) NativeMemory.Free((void*)buf);
        }
    }

    [GeneratedRegex(@"prog '([^']+)': BPF program load failed")]
    private static partial Regex FailedProgram();

    private BpfException LoadFailure(int errno, List<string> warnings)
    {
        // libbpf names the failing program in its warning; a non-empty log is the fallback when logging is off.
        var named = warnings.Select(w => FailedProgram().Match(w)).FirstOrDefault(m => m.Success)?.Groups[1].Value;
        var failed = _programs.FirstOrDefault(p => p.Name == named)
                     ?? _programs.FirstOrDefault(p => p.Autoload && p.VerifierLog is not null && _options.VerifierLogLevel == 0);
        if (failed is not null)
            return new BpfLoadException(failed.Name, errno, failed.VerifierLog ?? "(no verifier log)", warnings);
        return new BpfException($"load BPF object '{Name}'", errno, warnings);
    }

    public BpfProgram Program(string name) =>
        _programs.FirstOrDefault(p => p.Name == name)
        ?? throw new KeyNotFoundException($"BPF object '{Name}' has no program '{name}' (has: {string.Join(", ", _programs.Select(p => p.Name))})");

    public BpfMap Map(string name) =>
        _maps.FirstOrDefault(m => m.Name == name)
        ?? throw new KeyNotFoundException($"BPF object '{Name}' has no map '{name}' (has: {string.Join(", ", _maps.Select(m => m.Name))})");

    /// <summary>A typed view of map <paramref name="name"/>; throws <see cref="BpfMapLayoutException"/> on a size mismatch.</summary>
    public BpfMap<TKey, TValue> Map<TKey, TValue>(string name) where TKey : unmanaged where TValue : unmanaged =>
        new(Map(name));

    public void Dispose() => Handle.Dispose();
}
