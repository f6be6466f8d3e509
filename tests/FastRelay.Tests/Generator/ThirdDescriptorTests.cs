using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastRelay.Generated;
using Xunit;

namespace FastRelay.Tests.Generator;

/// <summary>
/// A descriptor that is not a bundled profile and exercises what they don't: a little-endian 8-byte packet number at
/// an odd offset, a plain 2-byte translated stream id, a 4-byte connection id, priority bits 4..6 where higher is more
/// urgent, a 1-byte channel and a 2-byte connection-scope magic. Its C# is compiled, loaded into a collectible
/// context, and its struct mirrors are measured against the layouts the generator recorded.
/// </summary>
public sealed class ThirdDescriptorTests
{
    public const string Source = """
        using System;
        using FastRelay.Descriptors;

        namespace Probes.Third;

        /// <summary>
        ///  0 1     2     3 .. 10          11 12       13 .. 16  17          18       19    20 ..
        /// magic | - | packet number LE | stream id | cid     | prio 4..6 | channel | -  | payload
        /// </summary>
        [FastRelayProtocol("third_proto", UdpPort = 9100, MaxSubscribers = 5, MaxChannels = 8, PriorityDrop = true)]
        public sealed partial record ThirdHeader
        {
            [Match(0, Value = 0xFA57, Scope = MatchScope.Connection)]
            public ushort Magic { get; init; }

            [PacketNumber(3, ByteOrder = ByteOrder.LittleEndian)]
            public ulong PacketNumber { get; init; }

            [StreamId(11, Encoding = StreamIdEncoding.Integer, Translate = true)]
            public ushort StreamId { get; init; }

            [ConnectionId(13, 4)]
            public byte[] ConnectionId { get; init; } = [];

            [Priority(17, FirstBit = 4, Bits = 3, Order = UrgencyOrder.HigherIsMoreUrgent)]
            public byte Flags { get; init; }

            [Channel(18)]
            public byte Channel { get; init; }

            [Payload(20)]
            public ReadOnlyMemory<byte> Payload { get; init; }
        }
        """;

    /// <summary>User code against the generated API (and a way to call the span-taking decoder from reflection).</summary>
    private const string Consumer = """
        namespace Probes.Third;

        public static class Consumer
        {
            public static object Decode(byte[] record) => ThirdHeaderFastPath.EventReader.Decode(record);

            public static string Header => ThirdHeaderFastPath.CHeader;

            public static object Streams(FastRelay.Bpf.BpfObject bpf) => new ThirdHeaderFastPath.Maps(bpf).Streams;
        }
        """;

    private const string GeneratedClass = "Probes.Third.ThirdHeaderFastPath";

    private static readonly Lazy<GeneratorRun> LazyRun = new(() =>
        GeneratorHarness.Run(new TestSource("/src/ThirdHeader.cs", Source), new TestSource("/src/Consumer.cs", Consumer)).AssertCompilesCleanly());

    private static GeneratorRun Run => LazyRun.Value;

    private static string Header => Run.CHeader(GeneratedClass);

    private static string Function(string header, string name) => GeneratedAssemblies.Function(header, name);

    [Fact]
    public void Generates_without_diagnostics()
    {
        Assert.Empty(Run.GeneratorDiagnostics);
        Assert.Equal("Probes.Third.ThirdHeaderFastPath.g.cs", Assert.Single(Run.GeneratedSources).HintName);
    }

    [Fact]
    public void Header_constants_follow_the_descriptor()
    {
        var header = Header;
        foreach (var line in new[]
                 {
                     "#define FR_PROTOCOL_NAME \"third_proto\"", "#define FR_UDP_PORT 9100", "#define FR_MAX_SUBSCRIBERS 5",
                     "#define FR_MAX_CHANNELS 8", "#define FR_HEADER_LEN 20", "#define FR_HEADER_BUF_LEN 20",
                     "#define FR_HAS_CHANNEL 1", "#define FR_HAS_PACKET_NUMBER 1", "#define FR_PN_TRANSLATE 1",
                     "#define FR_HAS_STREAM_ID 1", "#define FR_STREAM_TRANSLATE 1", "#define FR_HAS_CONNECTION_ID 1",
                     "#define FR_CID_OFFSET 13", "#define FR_CID_LEN 4", "#define FR_HAS_PRIORITY 1",
                     "#define FR_PRIORITY_LEVELS 8", "#define FR_PRIORITY_DROP 1", "#define FR_PAYLOAD_OFFSET 20",
                 })
            Assert.Contains(line + "\n", header);
    }

    [Fact]
    public void Packet_number_is_read_and_written_little_endian_from_the_odd_offset()
    {
        Assert.Contains("/* PacketNumber: bytes 3..10, little-endian, translated per subscriber. */", Header);
        Assert.Equal("""
            static __always_inline __u64 fr_read_packet_number(const __u8 *h)
            {
            	return ((__u64)h[3] | (__u64)h[4] << 8 | (__u64)h[5] << 16 | (__u64)h[6] << 24 | (__u64)h[7] << 32 | (__u64)h[8] << 40 | (__u64)h[9] << 48 | (__u64)h[10] << 56);
            }
            """, Function(Header, "fr_read_packet_number"));
        Assert.Equal("""
            static __always_inline void fr_write_packet_number(__u8 *h, __u64 v)
            {
            	h[3] = (__u8)(v);
            	h[4] = (__u8)(v >> 8);
            	h[5] = (__u8)(v >> 16);
            	h[6] = (__u8)(v >> 24);
            	h[7] = (__u8)(v >> 32);
            	h[8] = (__u8)(v >> 40);
            	h[9] = (__u8)(v >> 48);
            	h[10] = (__u8)(v >> 56);
            }
            """, Function(Header, "fr_write_packet_number"));
    }

    [Fact]
    public void Stream_id_is_a_plain_big_endian_integer()
    {
        Assert.Equal("""
            static __always_inline __u64 fr_read_stream_id(const __u8 *h)
            {
            	return ((__u64)h[11] << 8 | (__u64)h[12]);
            }
            """, Function(Header, "fr_read_stream_id"));
        Assert.Equal("""
            static __always_inline void fr_write_stream_id(__u8 *h, __u64 v)
            {
            	h[11] = (__u8)(v >> 8);
            	h[12] = (__u8)(v);
            }
            """, Function(Header, "fr_write_stream_id"));
        Assert.DoesNotContain("varint", Function(Header, "fr_write_stream_id"));
    }

    [Fact]
    public void Priority_channel_connection_id_and_match_accessors()
    {
        var header = Header;
        Assert.Equal("static __always_inline __u8 fr_read_priority(const __u8 *h)\n{\n\treturn (h[17] >> 4) & 0x7;\n}",
            Function(header, "fr_read_priority"));
        Assert.Equal("static __always_inline __u32 fr_read_urgency(const __u8 *h)\n{\n\treturn 7 - fr_read_priority(h);\n}",
            Function(header, "fr_read_urgency"));
        Assert.Contains("\tk->id = (__u64)h[18];\n", Function(header, "fr_read_channel"));
        Assert.Contains("\t__builtin_memcpy(h + 13, cid, 4);\n", Function(header, "fr_write_connection_id"));
        const string magic = "\treturn ((__u64)h[0] << 8 | (__u64)h[1]) == 0xfa57ULL;\n";
        Assert.Contains(magic, Function(header, "fr_match_connection"));
        Assert.Contains(magic, Function(header, "fr_match_fast_path"));
        Assert.Contains("\t__u8 id;\n", header[header.IndexOf("struct fr_channel_key {", StringComparison.Ordinal)..]);
        Assert.Contains("\t__u8 cid[4];", header);
    }

    [Fact]
    public void CHeader_constant_and_Protocol_record_carry_the_same_header()
    {
        WithLoadedAssembly(holder =>
        {
            var protocol = Protocol(holder);
            Assert.Equal(Header, protocol.CHeader);
            Assert.Equal(Header, (string)holder.GetField("CHeader")!.GetRawConstantValue()!);
            Assert.Equal("third_proto", protocol.Name);
            Assert.Equal("third_proto.fastrelay.h", protocol.HeaderFileName);
            Assert.Equal("Probes.Third.ThirdHeader", protocol.DescriptorType);
            Assert.Equal("ThirdHeader.cs", protocol.SourceFile);
            Assert.Equal(5, protocol.MaxSubscribers);
            Assert.Contains(protocol.Maps, m => m.Name == "fr_streams");
        });
    }

    [Fact]
    public void Emitted_struct_sizes_and_offsets_match_the_recorded_layouts()
    {
        WithLoadedAssembly(holder =>
        {
            var protocol = Protocol(holder);
            Assert.Equal(
                new[] { "fr_endpoint", "fr_channel_key", "fr_subscriber", "fr_budget", "fr_sub_stats", "fr_channel", "fr_stream_key", "fr_stream_value", "fr_event", "fr_config", "fr_stats" },
                protocol.Structs.Select(s => s.CName));
            var header = Header;
            foreach (var layout in protocol.Structs)
            {
                var type = holder.GetNestedType(layout.ClrName) ?? throw new Xunit.Sdk.XunitException($"no nested type {layout.ClrName}");
                Assert.True(type.IsValueType && type.IsExplicitLayout, $"{layout.ClrName} must be an explicit-layout struct");
                Assert.Equal(layout.Size, SizeOf(type));
                Assert.Equal(layout.Size, Marshal.SizeOf(type));
                Assert.Contains($"_Static_assert(sizeof(struct {layout.CName}) == {layout.Size}, ", header);

                // Padding is listed in the layout (the C side declares it) but has no C# field.
                var fields = type.GetFields(BindingFlags.Instance | BindingFlags.Public);
                var members = layout.Fields.Where(f => !f.CName.StartsWith("_pad", StringComparison.Ordinal)).ToList();
                Assert.Equal(members.Count, fields.Length);
                Assert.Equal(layout.Size, layout.Fields.Sum(f => f.Size)); // members and padding tile the struct
                foreach (var member in members)
                {
                    var field = Assert.Single(fields, f => f.GetCustomAttribute<FieldOffsetAttribute>()!.Value == member.Offset);
                    Assert.True(member.Size == SizeOf(field.FieldType),
                        $"{layout.CName}.{member.CName}: layout says {member.Size} bytes, {field.FieldType.Name} {field.Name} is {SizeOf(field.FieldType)}");
                }
            }

            // Sizes this descriptor decides.
            Assert.Equal(4, protocol.Structs.Single(s => s.CName == "fr_channel_key").Size); // u8 id + 3 padding
            Assert.Equal(new[] { new SharedFieldLayout("id", 0, 1), new SharedFieldLayout("_pad0", 1, 3) },
                protocol.Structs.Single(s => s.CName == "fr_channel_key").Fields);
            Assert.Contains(new SharedFieldLayout("channel", 8, 4), protocol.Structs.Single(s => s.CName == "fr_subscriber").Fields);
            Assert.Contains(new SharedFieldLayout("cid", 64, 4), protocol.Structs.Single(s => s.CName == "fr_subscriber").Fields);
            Assert.Contains(new SharedFieldLayout("slots", 28, 20), protocol.Structs.Single(s => s.CName == "fr_channel").Fields);
            Assert.Equal(5 * 64, protocol.Maps.Single(m => m.Name == "fr_streams").MaxEntries);

            var reader = holder.GetNestedType("EventReader")!;
            Assert.Equal(protocol.Structs.Single(s => s.CName == "fr_event").Size, (int)reader.GetField("RecordSize")!.GetRawConstantValue()!);
        });
    }

    [Fact]
    public void Event_reader_decodes_fields_at_the_recorded_offsets()
    {
        WithLoadedAssembly(holder =>
        {
            var layout = Protocol(holder).Structs.Single(s => s.CName == "fr_event");
            var record = new byte[layout.Size];
            int Offset(string name) => layout.Fields.Single(f => f.CName == name).Offset;
            BitConverter.TryWriteBytes(record.AsSpan(Offset("packet_number")), 0x0102030405060708UL);
            BitConverter.TryWriteBytes(record.AsSpan(Offset("upstream_stream_id")), 77UL);
            BitConverter.TryWriteBytes(record.AsSpan(Offset("slot")), 3u);
            record[Offset("origin")] = 2;
            record[Offset("urgency")] = 5;

            var decode = holder.Assembly.GetType("Probes.Third.Consumer")!.GetMethod("Decode")!;
            var registration = decode.Invoke(null, new object[] { record })!;
            Assert.Equal("Registration", registration.GetType().Name);
            object? Get(string property) => registration.GetType().GetProperty(property)!.GetValue(registration);
            Assert.Equal(0x0102030405060708UL, Get("PacketNumber"));
            Assert.Equal(77UL, Get("UpstreamStreamId"));
            Assert.Equal(3u, Get("Slot"));
            Assert.Equal("Userspace", Get("Origin")!.ToString());
            Assert.Equal((byte)5, Get("Urgency"));
        });
    }

    [ClangFact]
    public void Header_compiles_with_clang_for_bpf()
    {
        var dir = Directory.CreateTempSubdirectory("fastrelay-gen-test-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "third_proto.fastrelay.h"), Header);
            File.WriteAllText(Path.Combine(dir.FullName, "probe.bpf.c"), """
                #include "third_proto.fastrelay.h"

                SEC("tc")
                int probe(struct __sk_buff *skb)
                {
                	__u8 h[FR_HEADER_BUF_LEN] = {};
                	__u8 cid[FR_CID_LEN] = {1, 2, 3, 4};
                	struct fr_channel_key k;
                	if (!fr_match_connection(h) || !fr_match_fast_path(h))
                		return 0;
                	fr_write_packet_number(h, fr_read_packet_number(h) + 1);
                	fr_write_stream_id(h, fr_read_stream_id(h));
                	fr_write_connection_id(h, cid);
                	fr_read_channel(h, &k);
                	return fr_read_urgency(h) + k.id;
                }

                char LICENSE[] SEC("license") = "GPL";
                """);
            var result = ClangFactAttribute.Clang(dir.FullName, "-O2", "-g", "-target", "bpf", "-Wall", "-Werror", "-Wno-unused-function",
                "-I/usr/include/" + RuntimeInformation.OSArchitecture switch { Architecture.Arm64 => "aarch64-linux-gnu", _ => "x86_64-linux-gnu" },
                "-c", "probe.bpf.c", "-o", "probe.bpf.o");
            Assert.True(result.ExitCode == 0, "clang failed:\n" + result.Output);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static GeneratedProtocol Protocol(Type holder) => GeneratedAssemblies.Protocol(holder);

    private static int SizeOf(Type type) =>
        (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;

    private static void WithLoadedAssembly(Action<Type> test) => GeneratedAssemblies.WithLoaded(Run, GeneratedClass, test);
}

/// <summary>A fact that needs clang on PATH; skipped without it.</summary>
public sealed class ClangFactAttribute : FactAttribute
{
    private static readonly Lazy<bool> Available = new(() =>
    {
        try
        {
            return Clang(Path.GetTempPath(), "--version").ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    });

    public ClangFactAttribute()
    {
        if (!Available.Value)
            Skip = "clang not found on PATH";
    }

    public static (int ExitCode, string Output) Clang(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("clang") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }
}
