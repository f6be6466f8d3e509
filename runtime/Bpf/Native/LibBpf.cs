using System.Runtime.InteropServices;

namespace FastRelay.Bpf.Native;

/// <summary>
/// The libbpf 1.1 entry points this runtime uses. Opaque libbpf objects travel as <see cref="nint"/>; their lifetime
/// is owned by the SafeHandles in this folder. libbpf 1.x returns <c>-errno</c> from int functions and sets errno
/// for pointer functions, so only the latter ask for <c>SetLastError</c>.
/// </summary>
internal static unsafe partial class LibBpf
{
    private const string Lib = "libbpf.so.1";

    // Every libbpf call goes through this class, so installing the print hook here guarantees that no libbpf
    // message can reach stderr before the managed logger sees it.
    static LibBpf() => LibBpfLog.Install();

    // ---- logging and errors ----
    [LibraryImport(Lib)] internal static partial nint libbpf_set_print(nint fn);
    [LibraryImport(Lib)] internal static partial int libbpf_strerror(int err, byte* buf, nuint size);
    [LibraryImport(Lib)] internal static partial int libbpf_num_possible_cpus();

    // ---- object ----
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint bpf_object__open_file(string path, BpfObjectOpenOpts* opts);
    [LibraryImport(Lib)] internal static partial int bpf_object__load(nint obj);
    [LibraryImport(Lib)] internal static partial void bpf_object__close(nint obj);
    [LibraryImport(Lib)] internal static partial nint bpf_object__name(nint obj);
    [LibraryImport(Lib)] internal static partial nint bpf_object__btf(nint obj);
    [LibraryImport(Lib)] internal static partial nint bpf_object__next_program(nint obj, nint prev);
    [LibraryImport(Lib)] internal static partial nint bpf_object__next_map(nint obj, nint prev);

    // ---- program ----
    [LibraryImport(Lib)] internal static partial nint bpf_program__name(nint prog);
    [LibraryImport(Lib)] internal static partial nint bpf_program__section_name(nint prog);
    [LibraryImport(Lib)] internal static partial int bpf_program__fd(nint prog);
    [LibraryImport(Lib)] internal static partial int bpf_program__type(nint prog);
    [LibraryImport(Lib)] [return: MarshalAs(UnmanagedType.U1)] internal static partial bool bpf_program__autoload(nint prog);
    [LibraryImport(Lib)] internal static partial int bpf_program__set_autoload(nint prog, [MarshalAs(UnmanagedType.U1)] bool autoload);
    [LibraryImport(Lib)] internal static partial int bpf_program__set_log_level(nint prog, uint level);
    [LibraryImport(Lib)] internal static partial int bpf_program__set_log_buf(nint prog, byte* buf, nuint size);
    [LibraryImport(Lib)] internal static partial int bpf_prog_test_run_opts(int progFd, BpfTestRunOpts* opts);
    [LibraryImport(Lib)] internal static partial int bpf_obj_get_info_by_fd(int fd, void* info, uint* infoLen);

    // ---- map ----
    [LibraryImport(Lib)] internal static partial nint bpf_map__name(nint map);
    [LibraryImport(Lib)] internal static partial int bpf_map__fd(nint map);
    [LibraryImport(Lib)] internal static partial int bpf_map__type(nint map);
    [LibraryImport(Lib)] internal static partial uint bpf_map__key_size(nint map);
    [LibraryImport(Lib)] internal static partial uint bpf_map__value_size(nint map);
    [LibraryImport(Lib)] internal static partial uint bpf_map__max_entries(nint map);
    [LibraryImport(Lib)] internal static partial uint bpf_map__map_flags(nint map);
    [LibraryImport(Lib)] internal static partial int bpf_map__lookup_elem(nint map, void* key, nuint keySize, void* value, nuint valueSize, ulong flags);
    [LibraryImport(Lib)] internal static partial int bpf_map__update_elem(nint map, void* key, nuint keySize, void* value, nuint valueSize, ulong flags);
    [LibraryImport(Lib)] internal static partial int bpf_map__delete_elem(nint map, void* key, nuint keySize, ulong flags);
    [LibraryImport(Lib)] internal static partial int bpf_map__get_next_key(nint map, void* cur, void* next, nuint keySize);
    [LibraryImport(Lib)] internal static partial int bpf_map_lookup_batch(int fd, void* inBatch, void* outBatch, void* keys, void* values, uint* count, void* opts);
    [LibraryImport(Lib)] internal static partial int bpf_map_update_batch(int fd, void* keys, void* values, uint* count, void* opts);
    [LibraryImport(Lib)] internal static partial int bpf_map_delete_batch(int fd, void* keys, uint* count, void* opts);

    // ---- BTF ----
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int btf__find_by_name_kind(nint btf, string name, uint kind);
    [LibraryImport(Lib)] internal static partial BtfType* btf__type_by_id(nint btf, uint id);
    [LibraryImport(Lib)] internal static partial nint btf__name_by_offset(nint btf, uint offset);
    [LibraryImport(Lib)] internal static partial long btf__resolve_size(nint btf, uint typeId);

    // ---- ring buffer ----
    [LibraryImport(Lib, SetLastError = true)]
    internal static partial nint ring_buffer__new(int mapFd, delegate* unmanaged[Cdecl]<void*, void*, nuint, int> sampleCb, void* ctx, void* opts);
    [LibraryImport(Lib)] internal static partial void ring_buffer__free(nint rb);
    [LibraryImport(Lib)] internal static partial int ring_buffer__poll(nint rb, int timeoutMs);
    [LibraryImport(Lib)] internal static partial int ring_buffer__consume(nint rb);
    [LibraryImport(Lib)] internal static partial int ring_buffer__epoll_fd(nint rb);

    /// <summary>libbpf's <c>const char*</c> results are owned by libbpf: decode, never free.</summary>
    internal static string Str(nint p) => p == 0 ? string.Empty : Marshal.PtrToStringUTF8(p)!;
}
