using FastRelay.Bpf;
using FastRelay.Generated;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Build;

/// <summary>clang compiles every protocol the suite knows, and the kernel verifier accepts every program of each.</summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class BuildTests(GeneratedObjects objects)
{
    public static TheoryData<string> Protocols => new(GeneratedObjects.AllProtocols.Select(p => p.Name));

    [BpfTheory]
    [MemberData(nameof(Protocols))]
    public void Clang_builds_an_object_with_the_three_programs_and_every_generated_map(string name)
    {
        var protocol = GeneratedObjects.Protocol(name);
        using var obj = BpfObject.Open(objects.ObjectPath(protocol));

        Assert.Equal(ExpectedPrograms(protocol).Order(), obj.Programs.Select(p => p.Name).Order());
        foreach (var map in protocol.Maps)
        {
            var actual = obj.Map(map.Name);
            Assert.Equal(map.KeySize, actual.KeySize);
            Assert.Equal(map.ValueSize, actual.ValueSize);
            Assert.Equal(map.MaxEntries, actual.MaxEntries);
            Assert.Equal(map.Type, "BPF_MAP_TYPE_" + MapTypeName(actual.Type));
        }
    }

    [BpfTheory]
    [MemberData(nameof(Protocols))]
    public void The_kernel_verifier_accepts_every_program(string name)
    {
        var protocol = GeneratedObjects.Protocol(name);
        var verdicts = ProgramVerifier.VerifyObject(objects.ObjectPath(protocol));

        Assert.Equal(ExpectedPrograms(protocol).Count, verdicts.Count);
        foreach (var verdict in verdicts)
            Assert.True(verdict.Accepted, $"{name}/{verdict.Name} rejected: {verdict.Error}\n{verdict.VerifierLog}");
    }

    [BpfTheory]
    [MemberData(nameof(Protocols))]
    public void The_manifest_entry_describes_the_object(string name)
    {
        var protocol = GeneratedObjects.Protocol(name);
        var entry = objects.Build(protocol);

        Assert.Equal(protocol.ObjectFileName, entry.Object);
        Assert.Equal(protocol.HeaderFileName, entry.Header);
        Assert.StartsWith("Debian clang version", entry.Clang);
        Assert.Equal(64, entry.ObjectSha256.Length);
        Assert.Equal(protocol.Structs.Single(s => s.CName == "fr_event").Size, entry.Events.Size);
        Assert.Equal(File.ReadAllText(Path.Combine(objects.Directory, entry.Header)), protocol.CHeader);
    }

    /// <summary>The three relay programs, plus, for a descriptor with encrypted subscribers (issue 16), the seal program the
    /// egress program tail-calls and the syscall program that installs keys (bpf-templates/crypto).</summary>
    private static List<string> ExpectedPrograms(GeneratedProtocol protocol) =>
        protocol.CHeader.Contains("#define FR_ENCRYPTED_SUBSCRIBERS 1")
            ? [.. protocol.Programs, "fr_subscriber_egress_seal", "quic_install_keys"]
            : [.. protocol.Programs];

    private static string MapTypeName(BpfMapType type) => type switch
    {
        BpfMapType.Hash => "HASH",
        BpfMapType.Array => "ARRAY",
        BpfMapType.PercpuArray => "PERCPU_ARRAY",
        BpfMapType.Ringbuf => "RINGBUF",
        _ => type.ToString().ToUpperInvariant(),
    };
}
