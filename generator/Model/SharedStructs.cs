using System.Collections.Generic;

namespace FastRelay.Generator.Model;

/// <summary>The structs kernel and userspace share, sized by the descriptor (connection id length, channel width,
/// subscriber count, which roles exist). docs/generated-header.md documents each member.</summary>
internal static class SharedStructs
{
    /// <summary>Largest UDP payload the kernel cache keeps (an Ethernet MTU of 1500 less IPv4 and UDP headers); larger
    /// packets pass up to the relay's userspace cache instead.</summary>
    public const int CachePacketBytes = 1472;

    /// <summary>Bytes of one fr_cache_entry: key, receive time, length and padding, then the payload.</summary>
    public const int CacheEntryBytes = 8 + 8 + 4 + 4 + CachePacketBytes;

    public static EquatableArray<SharedStruct> Build(DescriptorSpec spec, FieldSpec? packetNumber, FieldSpec? streamId, FieldSpec? connectionId,
        FieldSpec? channel, FieldSpec? streamOffset, EquatableArray<FieldSpec> channelKeys, bool urgencyFromStream)
    {
        var endpoint = new LayoutBuilder("fr_endpoint", "Endpoint", "An IPv4 or IPv6 UDP endpoint; address and port in network byte order.")
            .Scalar("family", "Family", ScalarKind.U8, "4 or 6; 0 = unset")
            .PadTo(2)
            .Scalar("port", "Port", ScalarKind.Be16, "network byte order")
            .Array("addr", "Address", ScalarKind.U8, 16, "IPv4 uses the first 4 bytes")
            .Build();

        var channelKey = new LayoutBuilder("fr_channel_key", "ChannelKey",
                channel is not null ? "A channel id in host byte order."
                : channelKeys.Count > 0 ? "A channel id, assigned by userspace through fr_channel_lookup."
                : "The one channel (id 0): the descriptor has no channel field.")
            .Scalar("id", "Id", channel is null ? ScalarKind.U32 : WidthKind(channel.Width))
            .PadTo(4)
            .Build();

        var subscriber = new LayoutBuilder("fr_subscriber", "Subscriber", "A subscriber slot. Written only by userspace, after the subscriber's handshake.")
            .Scalar("active", "Active", ScalarKind.U32, "1 once userspace has activated the slot")
            .Scalar("ifindex", "IfIndex", ScalarKind.U32, "device the copies leave through")
            .Nested("channel", "Channel", channelKey, "the one channel whose copies this slot may receive")
            .Array("mac_src", "MacSource", ScalarKind.U8, 6, "relay device MAC")
            .Array("mac_dst", "MacDestination", ScalarKind.U8, 6, "next hop MAC towards the subscriber")
            .Nested("local", "Local", endpoint, "relay endpoint the subscriber talks to")
            .Nested("remote", "Remote", endpoint, "the subscriber's endpoint");
        if (connectionId is not null)
            subscriber.Array("cid", "ConnectionId", ScalarKind.U8, connectionId.Width, "connection id written into every copy");
        var subscriberStruct = subscriber.PadTo(4).Build();

        var budget = new LayoutBuilder("fr_budget", "Budget", "Per-subscriber byte budget: userspace refills it, the kernel debits it.")
            .Scalar("bytes", "Bytes", ScalarKind.S64, "bytes left; may go negative for the most urgent level")
            .Scalar("enabled", "Enabled", ScalarKind.U32, "0 = no priority drop for this subscriber")
            .Scalar("reserve_per_level", "ReservePerLevel", ScalarKind.U32, "bytes kept back per urgency level below the top")
            .Scalar("drop_from_level", "DropFromLevel", ScalarKind.U32, "urgency levels at or above this are always dropped")
            .PadTo(8)
            .Build();

        var subStats = new LayoutBuilder("fr_sub_stats", "SubscriberStats", "Per-subscriber kernel counters.");
        foreach (var (c, clr) in new[]
                 {
                     ("forwarded_packets", "ForwardedPackets"), ("forwarded_bytes", "ForwardedBytes"),
                     ("userspace_packets", "UserspacePackets"), ("dropped_budget", "DroppedBudget"),
                     ("dropped_no_stream", "DroppedNoStream"), ("dropped_inactive", "DroppedInactive"),
                     ("received_packets", "ReceivedPackets"), ("received_bytes", "ReceivedBytes"),
                     ("last_received_ns", "LastReceivedNs"),
                 })
            subStats.Scalar(c, clr, ScalarKind.U64);

        var channelValue = new LayoutBuilder("fr_channel", "Channel", "A channel: its upstream and the slots it fans out to. Written by userspace.")
            .Nested("upstream", "Upstream", endpoint, "only packets from this endpoint fan out; family 0 = any source, port 0 = none")
            .Scalar("count", "Count", ScalarKind.U32, "slots in use")
            .Scalar("rotation", "Rotation", ScalarKind.U32, "advanced per packet so no subscriber is always served last")
            .Array("slots", "Slots", ScalarKind.U32, spec.MaxSubscribers, "subscriber slots, first count used")
            .Scalar("cache_base", "CacheBase", ScalarKind.U32, "first fr_cache entry of this channel's ring (kernel cache only)")
            .PadTo(8)
            .Scalar("upstream_packets", "UpstreamPackets", ScalarKind.U64, "packets fanned out (kernel)")
            .Scalar("last_upstream_ns", "LastUpstreamNs", ScalarKind.U64, "bpf_ktime_get_ns of the last one (kernel): publisher liveness")
            .Build();

        var cacheEntry = new LayoutBuilder("fr_cache_entry", "CacheEntry",
                "One cached upstream packet (UDP payload as received). upstream_packet_number is written last and set to FR_CACHE_WRITING first.")
            .Scalar("upstream_packet_number", "UpstreamPacketNumber", ScalarKind.U64, "the cache key; FR_CACHE_WRITING while being written")
            .Scalar("received_ns", "ReceivedNs", ScalarKind.U64, "bpf_ktime_get_ns at upstream ingress")
            .Scalar("length", "Length", ScalarKind.U32, "UDP payload bytes")
            .PadTo(8)
            .Array("data", "Data", ScalarKind.U8, CachePacketBytes, "the UDP payload")
            .Build();

        var streamKey = new LayoutBuilder("fr_stream_key", "StreamKey", "A subscriber's view of an upstream stream.")
            .Scalar("slot", "Slot", ScalarKind.U32)
            .PadTo(8)
            .Scalar("upstream_stream_id", "UpstreamStreamId", ScalarKind.U64)
            .Build();

        var streamValueBuilder = new LayoutBuilder("fr_stream_value", "StreamValue", streamOffset is null
                ? "The stream id userspace opened for it on the subscriber's connection."
                : "The stream userspace opened for it on the subscriber's connection, and how far the kernel may forward on it.")
            .Scalar("stream_id", "StreamId", ScalarKind.U64);
        if (streamOffset is not null)
            streamValueBuilder
                .Scalar("offset_delta", "OffsetDelta", ScalarKind.S64, "downstream offset = upstream offset + offset_delta")
                .Scalar("forward_from", "ForwardFrom", ScalarKind.U64, "upstream offset: the kernel forwards only data at or after it")
                .Scalar("limit", "Limit", ScalarKind.U64, "downstream offset + data length may not exceed it (the subscriber's MAX_STREAM_DATA)");
        if (urgencyFromStream)
            streamValueBuilder.Scalar("urgency", "Urgency", ScalarKind.U8, "0 = most urgent; decided when the stream starts");
        var streamValue = streamValueBuilder.PadTo(8).Build();

        // One member per ChannelKey field, in header order: byte strings as they are on the wire, integers decoded.
        var lookupKeyBuilder = new LayoutBuilder("fr_channel_lookup_key", "ChannelLookupKey",
            "The header values that name a channel (the descriptor's ChannelKey fields), as the packet arrived.");
        foreach (var key in channelKeys)
        {
            if (key.Encoding == FieldEncoding.Bytes)
                lookupKeyBuilder.Array(SnakeCase(key.MemberName), key.MemberName, ScalarKind.U8, key.Width, $"bytes {key.Offset}..{key.End - 1} as on the wire");
            else
                lookupKeyBuilder.Scalar(SnakeCase(key.MemberName), key.MemberName, ScalarKind.U64, $"bytes {key.Offset}..{key.End - 1}, decoded");
        }
        var lookupKey = lookupKeyBuilder.PadTo(8).Build();

        var eventStruct = new LayoutBuilder("fr_event", "Event", "One registration: a packet the kernel sent to a subscriber.")
            .Scalar("timestamp_ns", "TimestampNs", ScalarKind.U64, "bpf_ktime_get_ns (CLOCK_MONOTONIC)");
        if (packetNumber is not null)
            eventStruct
                .Scalar("packet_number", "PacketNumber", ScalarKind.U64, "as sent to the subscriber")
                .Scalar("upstream_packet_number", "UpstreamPacketNumber", ScalarKind.U64, "as received (forwarded copies)");
        if (streamId is not null)
            eventStruct
                .Scalar("stream_id", "StreamId", ScalarKind.U64, "as sent to the subscriber")
                .Scalar("upstream_stream_id", "UpstreamStreamId", ScalarKind.U64, "as received");
        if (streamOffset is not null)
            eventStruct.Scalar("stream_offset", "StreamOffset", ScalarKind.U64, "downstream offset of the data (forwarded, not forwarded)");
        eventStruct
            .Scalar("slot", "Slot", ScalarKind.U32)
            .Scalar("length", "Length", ScalarKind.U32, "UDP payload bytes");
        if (streamOffset is not null)
            eventStruct.Scalar("data_length", "DataLength", ScalarKind.U32, "stream data bytes (the payload after FR_PAYLOAD_OFFSET)");
        eventStruct
            .Scalar("origin", "Origin", ScalarKind.U8, "FR_ORIGIN_FORWARDED, FR_ORIGIN_USERSPACE or FR_ORIGIN_NOT_FORWARDED")
            .Scalar("urgency", "Urgency", ScalarKind.U8, "0 = most urgent");
        if (streamOffset is not null)
            eventStruct
                .Scalar("fin", "Fin", ScalarKind.U8, "1 when the data ends the stream")
                .Scalar("reason", "Reason", ScalarKind.U8, "FR_NOT_FORWARDED_* (origin not forwarded), else 0");
        var eventLayout = eventStruct.PadTo(8).Build();

        var config = new LayoutBuilder("fr_config", "Config", "Relay-wide settings written by userspace.")
            .Scalar("udp_port", "UdpPort", ScalarKind.U16, "host order; 0 = FR_UDP_PORT")
            .PadTo(4)
            .Scalar("flags", "Flags", ScalarKind.U32, "FR_CONFIG_* bits")
            .Scalar("clone_mark", "CloneMark", ScalarKind.U32, "this instance's clone tag in the FR_MARK_MAGIC_MASK bits; 0 = FR_MARK_MAGIC")
            .Build();

        var stats = new LayoutBuilder("fr_stats", "Stats", "Relay-wide kernel counters (per CPU).");
        foreach (var (c, clr) in new[]
                 {
                     ("upstream_seen", "UpstreamSeen"), ("upstream_matched", "UpstreamMatched"),
                     ("upstream_not_matched", "UpstreamNotMatched"), ("upstream_truncated", "UpstreamTruncated"),
                     ("upstream_no_channel", "UpstreamNoChannel"), ("upstream_foreign_source", "UpstreamForeignSource"),
                     ("clones", "Clones"), ("clone_errors", "CloneErrors"), ("egress_rewritten", "EgressRewritten"),
                     ("egress_userspace_numbered", "EgressUserspaceNumbered"), ("egress_dropped_budget", "EgressDroppedBudget"),
                     ("egress_dropped_inactive", "EgressDroppedInactive"), ("egress_dropped_no_stream", "EgressDroppedNoStream"),
                     ("egress_family_mismatch", "EgressFamilyMismatch"), ("egress_wrong_channel", "EgressWrongChannel"),
                     ("egress_userspace_dropped", "EgressUserspaceDropped"), ("subscriber_ingress_seen", "SubscriberIngressSeen"),
                     ("subscriber_ingress_unknown", "SubscriberIngressUnknown"), ("events_lost", "EventsLost"),
                     ("egress_before_forward_from", "EgressBeforeForwardFrom"), ("egress_not_forwarded", "EgressNotForwarded"),
                     ("egress_family_translated", "EgressFamilyTranslated"), ("egress_family_too_big", "EgressFamilyTooBig"),
                     ("clone_no_egress_program", "CloneNoEgressProgram"), ("egress_wrong_device", "EgressWrongDevice"),
                 })
            stats.Scalar(c, clr, ScalarKind.U64);

        var list = new List<SharedStruct>
        {
            endpoint, channelKey, subscriberStruct, budget, subStats.Build(), channelValue,
        };
        if (channelKeys.Count > 0)
            list.Add(lookupKey);
        if (streamId is not null)
        {
            list.Add(streamKey);
            list.Add(streamValue);
        }
        if (spec.KernelCachePackets > 0)
            list.Add(cacheEntry);
        list.Add(eventLayout);
        list.Add(config);
        list.Add(stats.Build());
        return list.ToEquatableArray();
    }

    /// <summary>DestinationConnectionId → destination_connection_id (C member names of the lookup key).</summary>
    internal static string SnakeCase(string name)
    {
        var text = new System.Text.StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c) && i > 0 && (char.IsLower(name[i - 1]) || i + 1 < name.Length && char.IsLower(name[i + 1])))
                text.Append('_');
            text.Append(char.ToLowerInvariant(c));
        }
        return text.ToString();
    }

    private static ScalarKind WidthKind(int width) => width switch
    {
        1 => ScalarKind.U8,
        2 => ScalarKind.U16,
        4 => ScalarKind.U32,
        _ => ScalarKind.U64,
    };
}
