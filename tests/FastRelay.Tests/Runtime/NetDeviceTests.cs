using FastRelay.Cli.Fuzz;
using FastRelay.Net;
using FastRelay.Tests.Packets.Fixtures;
using Xunit;

namespace FastRelay.Tests.Runtime;

/// <summary>NetDevice.MtuOf: the custom-UDP relay applies the kernel's translation rule (new IP header + UDP + payload within
/// the device MTU) with it, so it must report what the kernel's bpf_check_mtu sees. Devices made here are named frxf*.</summary>
public sealed class NetDeviceTests
{
    [BpfFact]
    public void The_MTU_of_a_device_is_what_the_kernel_has_for_it()
    {
        using var device = RedirectDevice.Create("frxf", mtu: 1280);
        Assert.Equal(1280, NetDevice.MtuOf((int)device.IfIndex));
        Assert.Equal(65536, NetDevice.MtuOf(NetDevice.IndexOf("lo")));
    }

    [Fact]
    public void A_device_that_does_not_exist_has_no_MTU() => Assert.Null(NetDevice.MtuOf(int.MaxValue));
}
