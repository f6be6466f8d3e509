using System.Runtime.InteropServices;
using FastRelay.Bpf;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Attach;

[Collection(BpfCollection.Name)]
public sealed class BpfFsTests(CompiledFixtures fixtures)
{
    [StructLayout(LayoutKind.Sequential)]
    private struct PinValue
    {
        public uint SubscriberId;
        public ushort Port;
        public ushort Flags;
        public ulong Packets;
    }

    private static string Instance() => "frat" + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3));

    [BpfFact]
    public void EnsureMounted_mounts_a_bpffs_where_there_is_none()
    {
        var dir = Path.Combine(Path.GetTempPath(), Instance());
        Assert.False(BpfFs.IsBpfFs(Path.GetTempPath()));
        try
        {
            BpfFs.EnsureMounted(dir);
            Assert.True(BpfFs.IsBpfFs(dir));
            Assert.Contains($" {dir} bpf ", File.ReadAllText("/proc/self/mounts"));
            BpfFs.EnsureMounted(dir); // already a bpffs: nothing to do
            Assert.Single(File.ReadAllLines("/proc/self/mounts"), l => l.Contains($" {dir} bpf "));
        }
        finally
        {
            while (File.ReadAllText("/proc/self/mounts").Contains($" {dir} bpf ")) VethLab.Run("umount", dir);
            Directory.Delete(dir);
        }
    }

    /// <summary>The shared fastrelay directory goes with the last instance in it (tests and relays left it behind, empty),
    /// and stays while another instance lives there. On a bpffs of its own, so instances of parallel tests do not count.</summary>
    [BpfFact]
    public void The_shared_directory_goes_with_the_last_instance_in_it()
    {
        var root = Path.Combine(Path.GetTempPath(), Instance());
        try
        {
            BpfFs.EnsureMounted(root);
            var shared = Path.Combine(root, BpfFs.FastRelayDirectory);
            var first = BpfPinDirectory.Create(Instance(), root);
            using (BpfPinDirectory.Create(Instance(), root))
            {
                first.Dispose();
                Assert.False(Directory.Exists(first.Path));
                Assert.True(Directory.Exists(shared)); // the other instance still lives there
            }
            Assert.False(Directory.Exists(shared));
            using (var again = BpfPinDirectory.Create(Instance(), root)) Assert.True(Directory.Exists(again.Path));
            Assert.False(Directory.Exists(shared));
        }
        finally
        {
            while (File.ReadAllText("/proc/self/mounts").Contains($" {root} bpf ")) VethLab.Run("umount", root);
            Directory.Delete(root);
        }
    }

    [BpfFact]
    public void Maps_pinned_by_name_and_explicitly_are_visible_to_bpftool_with_btf_and_removed_on_shutdown()
    {
        var instance = Instance();
        string pinDir;
        using (var pins = BpfPinDirectory.Create(instance))
        {
            pinDir = pins.Path;
            Assert.Equal($"/sys/fs/bpf/fastrelay/{instance}", pinDir);
            using var obj = BpfObject.Load(fixtures.Object("pin_fixture"), new BpfObjectOptions { PinRootPath = pins.Path });

            // LIBBPF_PIN_BY_NAME + PinRootPath: libbpf pinned it during load.
            var byName = obj.Map("fx_by_name");
            Assert.True(byName.IsPinned);
            Assert.Equal(pins.PinPath("fx_by_name"), byName.PinnedPath);
            Assert.True(File.Exists(pins.PinPath("fx_by_name")));

            // Everything else: pinned by the runtime after load (internal .bss/.rodata maps skipped).
            var pinned = pins.PinMaps(obj);
            Assert.Equal([pins.PinPath("fx_by_name"), pins.PinPath("fx_explicit")], pinned.Order());
            Assert.True(obj.Map("fx_explicit").IsPinned);

            obj.Map("fx_explicit").Update(1u, new PinValue { SubscriberId = 4242, Port = 4433, Packets = 77 });
            byName.Update(3u, new PinValue { SubscriberId = 99, Port = 7 });
            var dump = VethLab.Run("bpftool", "map", "dump", "pinned", pins.PinPath("fx_explicit"));
            Assert.Contains("\"subscriber_id\": 4242", dump); // BTF-formatted: member names, not hex bytes
            Assert.Contains("\"port\": 4433", dump);
            Assert.Contains("\"packets\": 77", dump);
            Assert.Contains("\"subscriber_id\": 99", VethLab.Run("bpftool", "map", "dump", "pinned", pins.PinPath("fx_by_name")));
        }
        Assert.False(Directory.Exists(pinDir));
    }

    [BpfFact]
    public void Create_removes_pins_a_killed_instance_left_behind()
    {
        var instance = Instance();
        // A killed relay leaves its pins; its instance lock died with it (the kernel closes the fd), so what remains is
        // the directory with pins and no lock.
        var path = BpfFs.InstancePath(instance);
        Directory.CreateDirectory(path);
        var left = Path.Combine(path, "fx_by_name");
        using (var obj = BpfObject.Load(fixtures.Object("pin_fixture"), new BpfObjectOptions { PinRootPath = path }))
            Assert.True(File.Exists(left));

        using var second = BpfPinDirectory.Create(instance);
        Assert.Equal(path, second.Path);
        Assert.False(File.Exists(left));
        using var again = BpfObject.Load(fixtures.Object("pin_fixture"), new BpfObjectOptions { PinRootPath = second.Path });
        Assert.Equal(2, second.PinMaps(again).Count);
    }

    [Fact]
    public void Instance_names_must_be_one_path_segment()
    {
        Assert.Throws<ArgumentException>(() => BpfFs.InstancePath("../etc"));
        Assert.Throws<ArgumentException>(() => BpfFs.InstancePath("a/b"));
        Assert.Throws<ArgumentException>(() => BpfFs.InstancePath(""));
        Assert.Equal("/sys/fs/bpf/fastrelay/relay-1", BpfFs.InstancePath("relay-1"));
    }
}
