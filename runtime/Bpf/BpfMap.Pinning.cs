using FastRelay.Bpf.Native;

namespace FastRelay.Bpf;

// Pinning a map in bpffs (see BpfPinDirectory for the per-instance layout).
public sealed unsafe partial class BpfMap
{
    /// <summary>Pins the loaded map at <paramref name="path"/> (on a bpffs; the file must not exist).</summary>
    public void Pin(string path)
    {
        using var _ = new Lease(_owner.Handle);
        using var capture = LibBpfLog.CaptureWarnings();
        BpfError.Check(LibBpf.bpf_map__pin(Ptr, path), $"pin map {Name} at {path}");
    }

    /// <summary>Removes the map's pin (the path it was pinned at); the map itself lives on while the object holds it.</summary>
    public void Unpin()
    {
        using var _ = new Lease(_owner.Handle);
        BpfError.Check(LibBpf.bpf_map__unpin(Ptr, null), $"unpin map {Name}");
    }

    /// <summary>Before load: where libbpf pins the map (or reuses an existing pin there, if compatible) during
    /// <see cref="BpfObject.Load"/>, without the C declaration needing <c>LIBBPF_PIN_BY_NAME</c>.</summary>
    public void SetPinPath(string? path)
    {
        using var _ = new Lease(_owner.Handle);
        BpfError.Check(LibBpf.bpf_map__set_pin_path(Ptr, path), $"set pin path of map {Name}");
    }

    /// <summary>The path the map is (to be) pinned at, or null.</summary>
    public string? PinnedPath
    {
        get
        {
            using var _ = new Lease(_owner.Handle);
            nint p = LibBpf.bpf_map__pin_path(Ptr);
            return p == 0 ? null : LibBpf.Str(p);
        }
    }

    public bool IsPinned
    {
        get { using var _ = new Lease(_owner.Handle); return LibBpf.bpf_map__is_pinned(Ptr); }
    }
}
