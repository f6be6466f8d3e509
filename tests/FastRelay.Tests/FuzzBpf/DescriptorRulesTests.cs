using FastRelay.Cli.Fuzz.Model;
using FastRelay.Cli.Gen;
using FastRelay.Relay;
using Xunit;

namespace FastRelay.Tests.FuzzBpf;

/// <summary>The model reads each descriptor from its attributes on its own; the sizes it derives must be the generator's
/// (a disagreement here would make every fuzz run fail for the model's sake, not the kernel's).</summary>
public sealed class DescriptorRulesTests
{
    public static TheoryData<string> DescriptorNames => BpfFuzzTests.DescriptorNames;

    [Theory]
    [MemberData(nameof(DescriptorNames))]
    public void The_model_reads_the_same_header_sizes_and_levels_as_the_generator(string name)
    {
        var protocol = BpfFuzzTests.Descriptors.Single(d => d.Name == name);
        var rules = DescriptorRules.Of(ProtocolCatalog.DescriptorType(protocol));
        var generated = Define(protocol.CHeader);

        Assert.Equal(generated["FR_HEADER_LEN"], rules.HeaderLength);
        Assert.Equal(generated["FR_CONN_HEADER_LEN"], rules.ConnectionHeaderLength);
        Assert.Equal(generated["FR_PAYLOAD_OFFSET"], rules.PayloadOffset);
        Assert.Equal(generated["FR_PRIORITY_LEVELS"], rules.PriorityLevels);
        Assert.Equal(ProtocolFeatures.Of(protocol).LooksUpChannel, rules.LooksUpChannel);
        Assert.Equal(protocol.MaxSubscribers, rules.MaxSubscribers);
    }

    [Fact]
    public void A_forced_varint_is_read_without_its_prefix_and_written_with_it()
    {
        var field = new HeaderField(0, 8, Descriptors.ByteOrder.BigEndian, Varint: true);
        var h = new byte[8];

        field.Write(h, 0x1234);

        Assert.Equal(0xC0, h[0]);
        Assert.Equal(0x1234UL, field.Read(h));
    }

    [Fact]
    public void The_incremental_checksum_update_equals_a_full_recomputation()
    {
        byte[] data = [0x45, 0x00, 0x00, 0x54, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 10, 0, 0, 1, 10, 0, 0, 2];
        var check = InternetChecksum.Complete(InternetChecksum.Sum(data));
        var changed = (byte[])data.Clone();
        changed[8] = 64 - 1;
        changed[15] = 9;

        var change = InternetChecksum.Sum(changed, InternetChecksum.SumComplement(data));
        Assert.Equal(InternetChecksum.Complete(InternetChecksum.Sum(changed)), InternetChecksum.Update(check, change));
    }

    private static Dictionary<string, int> Define(string header) =>
        System.Text.RegularExpressions.Regex.Matches(header, @"^#define (FR_[A-Z_]+) (\d+)\s*$", System.Text.RegularExpressions.RegexOptions.Multiline)
            .ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value));
}
