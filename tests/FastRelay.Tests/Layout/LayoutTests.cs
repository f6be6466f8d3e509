using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastRelay.Bpf;
using FastRelay.Generated;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Layout;

/// <summary>C and C# agree on every shared struct: the C side as clang laid it out (the object's BTF), the C# side
/// as the CLR lays out the generated mirror types.</summary>
[Collection(GeneratedObjectsCollection.Name)]
public sealed class LayoutTests(GeneratedObjects objects)
{
    public static TheoryData<string> Protocols => new(GeneratedObjects.AllProtocols.Select(p => p.Name));

    [BpfTheory]
    [MemberData(nameof(Protocols))]
    public void Every_shared_struct_in_BTF_matches_the_generated_layout(string name)
    {
        var protocol = GeneratedObjects.Protocol(name);
        using var obj = BpfObject.Open(objects.ObjectPath(protocol));

        var mismatches = BtfLayoutCheck.Compare(obj, protocol.Structs);

        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
        Assert.Contains(protocol.Structs, s => s.CName == "fr_event"); // reached only through a ring-buffer pointer
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public void Every_CSharp_mirror_has_the_generated_size_and_offsets(string name)
    {
        var protocol = GeneratedObjects.Protocol(name);
        var holder = HolderType(protocol);

        foreach (var layout in protocol.Structs)
        {
            var type = holder.GetNestedType(layout.ClrName) ?? throw new Xunit.Sdk.XunitException($"{holder.Name}.{layout.ClrName} missing");
            Assert.Equal(layout.Size, SizeOf(type));
            Assert.Equal(layout.Size, Marshal.SizeOf(type));
            var fields = type.GetFields(BindingFlags.Public | BindingFlags.Instance);
            var described = layout.Fields.Where(f => !f.CName.StartsWith("_pad")).ToList();
            Assert.Equal(described.Count, fields.Length);
            foreach (var field in fields)
            {
                var offset = (int)Marshal.OffsetOf(type, field.Name);
                var member = described.Single(f => f.Offset == offset);
                Assert.Equal(member.Size, SizeOf(field.FieldType));
            }
        }
    }

    [BpfTheory]
    [MemberData(nameof(Protocols))]
    public void A_changed_layout_is_reported_by_the_BTF_check(string name)
    {
        var protocol = GeneratedObjects.Protocol(name);
        using var obj = BpfObject.Open(objects.ObjectPath(protocol));
        var subscriber = protocol.Structs.Single(s => s.CName == "fr_subscriber");
        var shifted = subscriber with
        {
            Fields = subscriber.Fields.Select(f => f.CName == "ifindex" ? f with { Offset = f.Offset + 4 } : f).ToList(),
        };

        var mismatches = BtfLayoutCheck.Compare(obj, protocol.Structs.Select(s => s.CName == "fr_subscriber" ? shifted : s).ToList());

        Assert.Contains(mismatches, m => m.Struct == "fr_subscriber" && m.Member == "ifindex");
    }

    private static Type HolderType(GeneratedProtocol protocol)
    {
        var assembly = AppDomain.CurrentDomain.GetAssemblies()
            .Select(a => a.GetCustomAttributes<GeneratedFastRelayProtocolAttribute>().FirstOrDefault(x =>
                x.Holder.GetProperty("Protocol")!.GetValue(null) == protocol))
            .FirstOrDefault(a => a is not null);
        return assembly?.Holder ?? throw new Xunit.Sdk.XunitException("no generated holder for " + protocol.Name);
    }

    private static int SizeOf(Type type) =>
        (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;
}
