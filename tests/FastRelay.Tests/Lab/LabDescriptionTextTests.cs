using FastRelay.Cli.Lab;
using Xunit;

namespace FastRelay.Tests.Lab;

/// <summary>`lab up` prints commands a user can paste from the repository root: the `./fastrelay` wrapper (nothing is on
/// PATH) and the relay address each host really reaches.</summary>
public class LabDescriptionTextTests
{
    private static LabInterfaceDescription Nic(string name, string ipv4, string segment) => new(name, 2, "02:00:00:00:00:01", ipv4, "fd00::1/64", segment);

    [Fact]
    public void The_printed_commands_use_the_wrapper_and_the_relay_address_of_each_hosts_segment()
    {
        var lab = new LabDescription("fr1234", "up", 2, 1, null, "fr1234-sw", "br0", ["fr1234-pub", "fr1234-relay", "fr1234-s0"],
        [
            new("pub", "publisher", "fr1234-pub", [Nic("eth0", "10.61.0.2/24", "up")]),
            new("relay", "relay", "fr1234-relay", [Nic("eth0", "10.61.0.1/24", "up"), Nic("eth1", "10.60.0.1/24", "shared")]),
            new("s0", "subscriber", "fr1234-s0", [Nic("eth0", "10.60.0.10/24", "shared")]),
        ], 1, DateTimeOffset.UnixEpoch);

        var lines = lab.ToText().Split('\n');

        Assert.Contains(lines, l => l.Contains("ip netns exec fr1234-relay ./fastrelay relay --bpffs"));
        Assert.Contains(lines, l => l.Contains("ip netns exec fr1234-s0 ./fastrelay subscribe --relay 10.60.0.1 "));
        Assert.Contains(lines, l => l.Contains("ip netns exec fr1234-pub ./fastrelay publish --relay 10.61.0.1 "));
        Assert.Contains(lines, l => l.TrimEnd().EndsWith("./fastrelay lab down fr1234"));
        Assert.DoesNotContain(lines, l => l.Contains(" fastrelay ") && !l.Contains("./fastrelay"));
    }
}
