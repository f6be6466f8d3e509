using FastRelay.Bpf;
using FastRelay.Cli.Gen;
using FastRelay.Generated;
using FastRelay.Tests.Runtime;
using Xunit;

namespace FastRelay.Tests.Generator;

/// <summary>
/// The descriptor features the QUIC/MoQ fast path added (<c>[StreamOffset]</c>, <c>[FinFlag]</c>, <c>ChannelKey</c>,
/// urgency from the stream mapping), used by a descriptor that is not QUIC: a little-endian 4-byte offset at an odd
/// place, a FIN in the top bit of a byte that also carries a match, and a channel named by a 4-byte session id plus a
/// plain 2-byte stream id. Shows the features are the generator's, not the QUIC profile's, and that the templates build
/// and pass the kernel verifier with them.
/// </summary>
public sealed class StreamDataDescriptorTests
{
    public const string Source = """
        using System;
        using FastRelay.Descriptors;

        namespace Probes.Flow;

        /// <summary>
        ///  0       1            2 .. 5        6 .. 9       10 11    12   13 .. 16       17   18 ..
        /// magic | F|kind(7) | session id | sequence LE | stream | -  | offset LE   | -  | data
        /// </summary>
        [FastRelayProtocol("flow_feed", UdpPort = 9200, MaxSubscribers = 4, MaxChannels = 16, PriorityDrop = true, ChannelLookupEntries = 128)]
        public sealed partial record FlowHeader
        {
            [Match(0, Value = 0xF1, Scope = MatchScope.Connection)]
            public byte Magic { get; init; }

            [Match(1, Mask = 0x7F, Value = 0x01)]
            [FinFlag(1, Mask = 0x80)]
            public byte Kind { get; init; }

            [ConnectionId(2, 4, ChannelKey = true)]
            public byte[] SessionId { get; init; } = [];

            [PacketNumber(6, ByteOrder = ByteOrder.LittleEndian)]
            public uint Sequence { get; init; }

            [StreamId(10, ChannelKey = true)]
            public ushort Stream { get; init; }

            [StreamOffset(13, ByteOrder = ByteOrder.LittleEndian)]
            public uint Offset { get; init; }

            [Payload(18)]
            public ReadOnlyMemory<byte> Data { get; init; }
        }
        """;

    private const string GeneratedClass = "Probes.Flow.FlowHeaderFastPath";

    private static readonly Lazy<GeneratorRun> LazyRun = new(() =>
        GeneratorHarness.Run(new TestSource("/src/FlowHeader.cs", Source)).AssertCompilesCleanly());

    private static GeneratorRun Run => LazyRun.Value;

    private static string Header => Run.CHeader(GeneratedClass);

    [Fact]
    public void Generates_without_diagnostics_and_states_the_features_in_the_header()
    {
        Assert.Empty(Run.GeneratorDiagnostics);
        foreach (var line in new[]
                 {
                     "#define FR_HAS_CHANNEL 0", "#define FR_CHANNEL_LOOKUP 1", "#define FR_CHANNEL_LOOKUP_ENTRIES 128",
                     "#define FR_HAS_STREAM_OFFSET 1", "#define FR_HAS_FIN 1", "#define FR_HAS_PRIORITY 0", "#define FR_PRIORITY_DROP 1",
                     "#define FR_URGENCY_FROM_STREAM 1", "#define FR_PRIORITY_LEVELS 256", "#define FR_PAYLOAD_OFFSET 18",
                     "#define FR_HEADER_LEN 18", "#define FR_CONN_HEADER_LEN 10",
                     "#define FR_STREAM_OFFSET_MAX 0xffffffffULL", // a 4-byte integer offset, not QUIC's 62 bits
                 })
            Assert.Contains(line + "\n", Header);
    }

    [Fact]
    public void Offset_and_fin_accessors_follow_the_descriptor()
    {
        Assert.Equal("""
            static __always_inline __u64 fr_read_stream_offset(const __u8 *h)
            {
            	return ((__u64)h[13] | (__u64)h[14] << 8 | (__u64)h[15] << 16 | (__u64)h[16] << 24);
            }
            """, GeneratedAssemblies.Function(Header, "fr_read_stream_offset"));
        Assert.Equal("""
            static __always_inline void fr_write_stream_offset(__u8 *h, __u64 v)
            {
            	h[13] = (__u8)(v);
            	h[14] = (__u8)(v >> 8);
            	h[15] = (__u8)(v >> 16);
            	h[16] = (__u8)(v >> 24);
            }
            """, GeneratedAssemblies.Function(Header, "fr_write_stream_offset"));
        Assert.Equal("static __always_inline __u8 fr_read_fin(const __u8 *h)\n{\n\treturn (h[1] & 0x80) != 0;\n}",
            GeneratedAssemblies.Function(Header, "fr_read_fin"));
        // The FIN bit is outside the match mask: data with and without FIN both match.
        Assert.Contains("((__u64)h[1] & 0x7fULL) == 0x1ULL", GeneratedAssemblies.Function(Header, "fr_match_fast_path"));
    }

    [Fact]
    public void The_channel_is_looked_up_by_the_key_fields_as_received()
    {
        var find = GeneratedAssemblies.Function(Header, "fr_find_channel");
        Assert.Contains("\t__builtin_memset(&lk, 0, sizeof(lk));", find);
        Assert.Contains("\t__builtin_memcpy(lk.session_id, h + 2, 4);\n", find);
        Assert.Contains("\tlk.stream = ((__u64)h[10] << 8 | (__u64)h[11]);\n", find);
        Assert.Contains("\tfound = bpf_map_lookup_elem(&fr_channel_lookup, &lk);\n", find);
        Assert.DoesNotContain("fr_read_channel", Header); // no channel field: nothing reads one
    }

    [Fact]
    public void Lookup_key_stream_value_event_and_maps_are_laid_out_for_the_features()
    {
        GeneratedAssemblies.WithLoaded(Run, GeneratedClass, holder =>
        {
            var protocol = GeneratedAssemblies.Protocol(holder);
            SharedFieldLayout[] Fields(string name) => [.. protocol.Structs.Single(s => s.CName == name).Fields];

            Assert.Equal([new("session_id", 0, 4), new("_pad0", 4, 4), new("stream", 8, 8)], Fields("fr_channel_lookup_key"));
            Assert.Equal([new("stream_id", 0, 8), new("offset_delta", 8, 8), new("forward_from", 16, 8), new("limit", 24, 8),
                new("urgency", 32, 1), new("_pad0", 33, 7)], Fields("fr_stream_value"));
            var ev = Fields("fr_event").Select(f => f.CName).ToList();
            Assert.Equal(["timestamp_ns", "packet_number", "upstream_packet_number", "stream_id", "upstream_stream_id", "stream_offset",
                "slot", "length", "data_length", "origin", "urgency", "fin", "reason"], ev);

            var maps = protocol.Maps.ToDictionary(m => m.Name);
            Assert.Equal(("BPF_MAP_TYPE_HASH", 16, 4, 128), (maps["fr_channel_lookup"].Type, maps["fr_channel_lookup"].KeySize,
                maps["fr_channel_lookup"].ValueSize, maps["fr_channel_lookup"].MaxEntries));
            Assert.Equal(("BPF_MAP_TYPE_ARRAY", 8, 4), (maps["fr_credit_limit"].Type, maps["fr_credit_limit"].ValueSize, maps["fr_credit_limit"].MaxEntries));
            Assert.Equal(("BPF_MAP_TYPE_ARRAY", 8, 4), (maps["fr_credit_used"].Type, maps["fr_credit_used"].ValueSize, maps["fr_credit_used"].MaxEntries));

            // The typed C# side: a not-forwarded reason enum and the event's stream data members.
            Assert.Equal(["None", "StraddlesForwardFrom", "StreamLimit", "ConnectionCredit", "Budget", "RewriteFailed"],
                Enum.GetNames(holder.GetNestedType("NotForwardedReason")!));
            Assert.Contains("NotForwarded", Enum.GetNames(holder.GetNestedType("PacketOrigin")!));
            var registration = holder.GetNestedType("Registration")!;
            Assert.Equal(holder.GetNestedType("NotForwardedReason"), registration.GetProperty("Reason")!.PropertyType);
            Assert.Equal(typeof(ulong), registration.GetProperty("StreamOffset")!.PropertyType);
        });
    }

    /// <summary>The real templates compiled with this header load, pass the verifier and match their C# mirrors in BTF.</summary>
    [BpfFact]
    public void The_relay_templates_build_and_pass_the_verifier_with_these_features()
    {
        var dir = Directory.CreateTempSubdirectory("fastrelay-flow-feed-");
        try
        {
            GeneratedAssemblies.WithLoaded(Run, GeneratedClass, holder =>
            {
                var protocol = GeneratedAssemblies.Protocol(holder);
                var clang = ClangToolchain.FindAsync(BpfCapabilities.FindClang(), CancellationToken.None).GetAwaiter().GetResult();
                var built = new GenPipeline(clang, Infrastructure.RepoPaths.BpfTemplates, TextWriter.Null)
                    .BuildAsync(protocol, dir.FullName, CancellationToken.None).GetAwaiter().GetResult();
                using var obj = BpfObject.Load(Path.Combine(dir.FullName, built.Object));
                Assert.Equal(["fr_subscriber_egress", "fr_subscriber_ingress", "fr_upstream_ingress"], obj.Programs.Select(p => p.Name).Order());
                BtfLayoutCheck.Verify(obj, protocol.Structs);
            });
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
