using FastRelay.Bpf;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Attach;

/// <summary>A relay instance's pin directory belongs to one live process: a second relay started with the same name
/// must fail, not delete the live relay's pins (it used to remove them as a killed relay's leftovers).</summary>
[Collection(BpfCollection.Name)]
public sealed class InstanceLockTests(CompiledFixtures fixtures)
{
    [BpfFact]
    public void A_second_relay_with_a_live_instances_name_fails_and_leaves_its_pins()
    {
        var instance = "frkh" + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3));
        string pin;
        using (var live = BpfPinDirectory.Create(instance))
        {
            using var obj = BpfObject.Load(fixtures.Object("pin_fixture"), new BpfObjectOptions { PinRootPath = live.Path });
            live.PinMaps(obj);
            pin = live.PinPath("fx_by_name");
            Assert.True(File.Exists(pin));

            var refused = Assert.ThrowsAny<IOException>(() => BpfPinDirectory.Create(instance));
            Assert.Contains("in use by another process", refused.Message);
            Assert.True(File.Exists(pin));
        }
        Assert.False(File.Exists(pin));

        // The lock goes with the owner: the name is free again.
        using (BpfPinDirectory.Create(instance)) { }
    }
}
