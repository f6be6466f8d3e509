using System.Linq;

namespace FastRelay.Generator.Model;

/// <summary>Derives the <see cref="ProtocolModel"/> (shared structs, maps, header length) from a validated
/// descriptor. Sizes that depend on the descriptor live here and nowhere else.</summary>
internal static class ModelBuilder
{
    public const int StreamEntriesPerSubscriber = 64;

    public static ProtocolModel Build(DescriptorSpec spec)
    {
        var fields = spec.Fields.Select(f => f with { Location = null }).ToList();
        FieldSpec? Single(FieldRole role) => fields.FirstOrDefault(f => f.Role == role);

        var packetNumber = Single(FieldRole.PacketNumber);
        var streamId = Single(FieldRole.StreamId);
        var connectionId = Single(FieldRole.ConnectionId);
        var priority = Single(FieldRole.Priority);
        var channel = Single(FieldRole.Channel);
        var payload = Single(FieldRole.Payload);
        var streamOffset = Single(FieldRole.StreamOffset);
        var finFlag = Single(FieldRole.FinFlag);
        var channelKeys = fields.Where(f => f.ChannelKey).ToEquatableArray();

        var headerLength = fields.Select(f => f.Role == FieldRole.Payload ? f.Offset : f.End).DefaultIfEmpty(1).Max();
        if (headerLength < 1)
            headerLength = 1;
        // What the egress program must read to number a packet of the relay's own stack: the connection-scope matches
        // and the packet number. Such packets (a QUIC ACK) can be much shorter than the fast-path header.
        var connectionHeaderLength = fields.Where(f => f.Role == FieldRole.Match && f.ConnectionScope || f.Role == FieldRole.PacketNumber)
            .Select(f => f.End).DefaultIfEmpty(1).Max();
        var urgencyFromStream = spec.PriorityDrop && priority is null && streamOffset is not null;
        var structs = SharedStructs.Build(spec, packetNumber, streamId, connectionId, channel, streamOffset, channelKeys, urgencyFromStream);
        var maps = SharedMaps.Build(spec, structs, streamId is { Translate: true }, channelKeys.Count > 0, streamOffset is not null);

        return new ProtocolModel(
            Name: spec.ProtocolName,
            Namespace: spec.Namespace,
            DescriptorTypeName: spec.TypeName,
            DescriptorFullTypeName: spec.FullTypeName,
            GeneratedClassName: spec.TypeName + "FastPath",
            SourceFile: System.IO.Path.GetFileName(spec.SourceFile),
            UdpPort: spec.UdpPort,
            MaxSubscribers: spec.MaxSubscribers,
            MaxChannels: spec.MaxChannels,
            PriorityDrop: spec.PriorityDrop,
            KernelCachePackets: spec.KernelCachePackets,
            HeaderLength: headerLength,
            HeaderBufferLength: (headerLength + 3) / 4 * 4,
            Matches: fields.Where(f => f.Role == FieldRole.Match).ToEquatableArray(),
            PacketNumber: packetNumber,
            StreamId: streamId,
            ConnectionId: connectionId,
            Priority: priority,
            Channel: channel,
            Payload: payload,
            StreamOffset: streamOffset,
            FinFlag: finFlag,
            MessageCount: Single(FieldRole.MessageCount),
            ChannelKeys: channelKeys,
            ChannelLookupEntries: spec.ChannelLookupEntries,
            EncryptedSubscribers: spec.EncryptedSubscribers,
            ConnectionHeaderLength: System.Math.Min(connectionHeaderLength, headerLength),
            Structs: structs,
            Maps: maps,
            Programs: new[]
            {
                new ProgramSpec("fr_upstream_ingress", "UpstreamIngress", "ingress",
                    "Classifies upstream packets and clones them to the subscribers of their channel."),
                new ProgramSpec("fr_subscriber_ingress", "SubscriberIngress", "ingress",
                    "Observes packets from subscribers (liveness counters); never activates anyone."),
                new ProgramSpec("fr_subscriber_egress", "SubscriberEgress", "egress",
                    "Rewrites each copy for its subscriber, numbers packets, applies the budget, emits registrations."),
            }.ToEquatableArray());
    }
}
