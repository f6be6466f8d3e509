using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using FastRelay.Generator.Diagnostics;
using FastRelay.Generator.Model;
using static FastRelay.Generator.Parsing.DescriptorParser;

namespace FastRelay.Generator.Parsing;

/// <summary>The rules a descriptor must satisfy before any C is emitted. Each rule reports at the attribute that
/// breaks it.</summary>
internal static class DescriptorValidator
{
    /// <summary>The TC programs copy this many UDP payload bytes to the stack; fields must lie inside them.</summary>
    public const int MaxHeaderDepth = 64;
    public const int MaxSubscribersLimit = 256;
    public const int MaxChannelsLimit = 65536;
    public const int MaxKernelCachePackets = 65536;
    public const int MaxConnectionIdLength = 20;
    public const int MaxChannelLookupEntries = 1 << 20;

    /// <summary>fr_cache is one array map of MaxChannels × KernelCachePackets entries, allocated when the object loads and
    /// never swapped out. Each setting alone may be large; their product is what the kernel must hold.</summary>
    public const long MaxKernelCacheBytes = 1L << 30;
    public const long LargeKernelCacheBytes = 64L << 20;

    private static readonly Regex CIdentifier = new("^[A-Za-z_][A-Za-z0-9_]{0,31}$");

    public static IEnumerable<DiagnosticInfo> Validate(DescriptorSpec spec)
    {
        var at = spec.Location;
        if (!CIdentifier.IsMatch(spec.ProtocolName))
            yield return Diagnostic(DescriptorDiagnostics.InvalidProtocolName, at, spec.ProtocolName);
        if (spec.UdpPort is < 1 or > 65535)
            yield return Diagnostic(DescriptorDiagnostics.InvalidSetting, at, "UdpPort", spec.UdpPort.ToString(), "1..65535");
        if (spec.MaxSubscribers is < 1 or > MaxSubscribersLimit)
            yield return Diagnostic(DescriptorDiagnostics.InvalidSetting, at, "MaxSubscribers", spec.MaxSubscribers.ToString(), "1.." + MaxSubscribersLimit);
        if (spec.MaxChannels is < 1 or > MaxChannelsLimit)
            yield return Diagnostic(DescriptorDiagnostics.InvalidSetting, at, "MaxChannels", spec.MaxChannels.ToString(), "1.." + MaxChannelsLimit);
        if (spec.KernelCachePackets != 0 && (spec.KernelCachePackets is < 0 or > MaxKernelCachePackets || (spec.KernelCachePackets & (spec.KernelCachePackets - 1)) != 0))
            yield return Diagnostic(DescriptorDiagnostics.InvalidSetting, at, "KernelCachePackets", spec.KernelCachePackets.ToString(),
                "0 or a power of two up to " + MaxKernelCachePackets);

        else if (spec.KernelCachePackets > 0 && spec.MaxChannels is >= 1 and <= MaxChannelsLimit && KernelCacheDiagnostic(spec) is { } cacheSize)
            yield return cacheSize;

        if (spec.Fields.Any(f => f.ChannelKey) && spec.ChannelLookupEntries is < 1 or > MaxChannelLookupEntries)
            yield return Diagnostic(DescriptorDiagnostics.InvalidSetting, at, "ChannelLookupEntries", spec.ChannelLookupEntries.ToString(),
                "1.." + MaxChannelLookupEntries);

        foreach (var diagnostic in ValidateFields(spec))
            yield return diagnostic;
        foreach (var diagnostic in ValidateRoles(spec))
            yield return diagnostic;
    }

    /// <summary>The product in 64 bits (65536 × 65536 is 2^32: 0 in an int and in the map's u32 max_entries).</summary>
    private static DiagnosticInfo? KernelCacheDiagnostic(DescriptorSpec spec)
    {
        var entries = (long)spec.MaxChannels * spec.KernelCachePackets;
        var bytes = entries * SharedStructs.CacheEntryBytes;
        if (bytes < LargeKernelCacheBytes)
            return null;
        var args = new[]
        {
            spec.MaxChannels.ToString(CultureInfo.InvariantCulture), spec.KernelCachePackets.ToString(CultureInfo.InvariantCulture),
            entries.ToString(CultureInfo.InvariantCulture), SharedStructs.CacheEntryBytes.ToString(CultureInfo.InvariantCulture),
            Mebibytes(bytes),
        };
        return bytes > MaxKernelCacheBytes
            ? Diagnostic(DescriptorDiagnostics.KernelCacheTooLarge, spec.Location, args.Append(Mebibytes(MaxKernelCacheBytes)).ToArray())
            : Diagnostic(DescriptorDiagnostics.KernelCacheLarge, spec.Location, args);
    }

    private static string Mebibytes(long bytes) => (bytes / (1024.0 * 1024.0)).ToString("0.#", CultureInfo.InvariantCulture);

    private static IEnumerable<DiagnosticInfo> ValidateFields(DescriptorSpec spec)
    {
        foreach (var field in spec.Fields)
        {
            var role = field.RoleName;
            if (field.Offset < 0)
            {
                yield return Diagnostic(DescriptorDiagnostics.NegativeOffset, field.Location, role, field.MemberName, field.Offset.ToString());
                continue;
            }
            var widthError = field.Role switch
            {
                FieldRole.ConnectionId when field.Width is < 1 or > MaxConnectionIdLength => "1.." + MaxConnectionIdLength,
                FieldRole.ConnectionId or FieldRole.Payload or FieldRole.Priority or FieldRole.FinFlag => null,
                _ when field.Width is not (1 or 2 or 4 or 8) => "1, 2, 4 or 8",
                _ => null,
            };
            if (widthError is not null)
            {
                yield return Diagnostic(DescriptorDiagnostics.UnsupportedWidth, field.Location, role, field.MemberName, field.Width.ToString(), widthError);
                continue;
            }
            var depthEnd = field.Role == FieldRole.Payload ? field.Offset : field.End;
            if (depthEnd > MaxHeaderDepth)
                yield return Diagnostic(DescriptorDiagnostics.BeyondHeaderDepth, field.Location, role, field.MemberName,
                    depthEnd.ToString(), MaxHeaderDepth.ToString());
            if (field.Role == FieldRole.Priority && (field.PriorityBits < 1 || field.PriorityFirstBit < 0 || field.PriorityFirstBit + field.PriorityBits > 8))
                yield return Diagnostic(DescriptorDiagnostics.PriorityBitsOutsideByte, field.Location, field.MemberName,
                    field.PriorityFirstBit.ToString(), (field.PriorityFirstBit + field.PriorityBits - 1).ToString());
            if (field.ChannelKey && field.Role is not (FieldRole.ConnectionId or FieldRole.StreamId))
                yield return Diagnostic(DescriptorDiagnostics.SettingIgnored, field.Location, role, field.MemberName,
                    "ChannelKey applies only to ConnectionId and StreamId fields");
            if (field.Role == FieldRole.FinFlag && (field.MatchMask & 0xFF) == 0)
                yield return Diagnostic(DescriptorDiagnostics.InvalidSetting, field.Location, "FinFlag Mask", "0", "1..255 (the bits that mean final)");
            if (field.Role == FieldRole.Match)
            {
                var fieldMask = field.Width >= 8 ? ulong.MaxValue : (1UL << (field.Width * 8)) - 1;
                if ((field.MatchValue & ~(field.MatchMask & fieldMask)) != 0)
                    yield return Diagnostic(DescriptorDiagnostics.MatchValueOutsideMask, field.Location, field.MemberName,
                        "0x" + field.MatchValue.ToString("X"), "0x" + field.MatchMask.ToString("X"), field.Width.ToString());
            }
        }
    }

    private static IEnumerable<DiagnosticInfo> ValidateRoles(DescriptorSpec spec)
    {
        var fields = spec.Fields.Where(f => f.Offset >= 0).ToList();
        var firstOfRole = new Dictionary<FieldRole, FieldSpec>();
        foreach (var field in fields.Where(f => f.Role != FieldRole.Match).OrderBy(f => f.Location?.LineSpan.Start.Line ?? 0).ThenBy(f => f.Location?.LineSpan.Start.Character ?? 0))
        {
            if (firstOfRole.TryGetValue(field.Role, out var first))
                yield return Diagnostic(DescriptorDiagnostics.DuplicateRole, field.Location, field.RoleName, field.MemberName, first.MemberName);
            else
                firstOfRole[field.Role] = field;
        }

        // Written fields own their bytes. Read-only roles may share bytes with each other, and the priority or channel
        // may sit inside the connection id (they are read from the packet as it arrived, before the rewrite).
        var sized = fields.Where(f => f.Role != FieldRole.Payload && f.Width > 0).ToList();
        for (var i = 0; i < sized.Count; i++)
        for (var j = i + 1; j < sized.Count; j++)
        {
            var (a, b) = (sized[i], sized[j]);
            if (a.Offset >= b.End || b.Offset >= a.End || !(a.IsWritten || b.IsWritten))
                continue;
            var (written, other) = a.IsWritten ? (a, b) : (b, a);
            if (written.Role == FieldRole.ConnectionId && other.Role is FieldRole.Priority or FieldRole.Channel && !other.IsWritten)
                continue;
            // Report at whichever attribute comes later in the source: the one most likely just added or edited.
            var (first, second) = ComesLater(b, a) ? (b, a) : (a, b);
            yield return Diagnostic(DescriptorDiagnostics.OverlappingFields, first.Location,
                first.RoleName, first.MemberName, first.Offset.ToString(), (first.End - 1).ToString(),
                second.RoleName, second.MemberName, second.Offset.ToString(), (second.End - 1).ToString(), written.RoleName);
        }

        if (firstOfRole.TryGetValue(FieldRole.Payload, out var payload))
            foreach (var field in sized.Where(f => f.End > payload.Offset))
                yield return Diagnostic(DescriptorDiagnostics.FieldAfterPayload, field.Location, field.RoleName, field.MemberName,
                    field.End.ToString(), payload.Offset.ToString());

        var channelKeys = fields.Where(f => f.ChannelKey).ToList();
        if (firstOfRole.TryGetValue(FieldRole.Channel, out var channelField) && channelKeys.Count > 0)
            yield return Diagnostic(DescriptorDiagnostics.ChannelNamedTwice, channelKeys[0].Location, channelField.MemberName, channelKeys[0].MemberName);
        if (spec.MaxChannels > 1 && !firstOfRole.ContainsKey(FieldRole.Channel) && channelKeys.Count == 0)
            yield return Diagnostic(DescriptorDiagnostics.MissingRole, spec.Location, $"MaxChannels = {spec.MaxChannels}", "Channel");
        // Without a priority field the urgency comes from the stream mapping (decided by userspace when the stream starts).
        if (spec.PriorityDrop && !firstOfRole.ContainsKey(FieldRole.Priority) && !firstOfRole.ContainsKey(FieldRole.StreamOffset))
            yield return Diagnostic(DescriptorDiagnostics.MissingRole, spec.Location, "PriorityDrop", "Priority");
        if (firstOfRole.TryGetValue(FieldRole.StreamOffset, out var streamOffset))
        {
            if (!firstOfRole.TryGetValue(FieldRole.StreamId, out var sid) || !sid.Translate)
                yield return Diagnostic(DescriptorDiagnostics.MissingRole, streamOffset.Location, $"StreamOffset '{streamOffset.MemberName}'", "StreamId(Translate = true)");
            if (!firstOfRole.ContainsKey(FieldRole.Payload))
                yield return Diagnostic(DescriptorDiagnostics.MissingRole, streamOffset.Location, $"StreamOffset '{streamOffset.MemberName}'", "Payload");
        }
        if (firstOfRole.TryGetValue(FieldRole.FinFlag, out var fin) && streamOffset is null)
            yield return Diagnostic(DescriptorDiagnostics.MissingRole, fin.Location, $"FinFlag '{fin.MemberName}'", "StreamOffset");
        if (spec.KernelCachePackets > 0 && !firstOfRole.ContainsKey(FieldRole.PacketNumber))
            yield return Diagnostic(DescriptorDiagnostics.MissingRole, spec.Location, $"KernelCachePackets = {spec.KernelCachePackets}", "PacketNumber");
        if (spec.EncryptedSubscribers && !(firstOfRole.TryGetValue(FieldRole.PacketNumber, out var numbered) && numbered.Translate))
            yield return Diagnostic(DescriptorDiagnostics.MissingRole, spec.Location, "EncryptedSubscribers", "PacketNumber(Translate = true)");
        if (firstOfRole.TryGetValue(FieldRole.MessageCount, out var count))
        {
            if (!firstOfRole.TryGetValue(FieldRole.PacketNumber, out var number))
                yield return Diagnostic(DescriptorDiagnostics.MissingRole, count.Location, $"MessageCount '{count.MemberName}'", "PacketNumber");
            else
            {
                if (number.Translate)
                    yield return Diagnostic(DescriptorDiagnostics.RenumberedMessageSequence, number.Location, number.MemberName, count.MemberName);
                if (spec.KernelCachePackets > 0)
                    yield return Diagnostic(DescriptorDiagnostics.KernelCacheOfMessageSequence, spec.Location,
                        spec.KernelCachePackets.ToString(CultureInfo.InvariantCulture), number.MemberName, count.MemberName);
            }
        }
        if (!fields.Any(f => f.Role == FieldRole.Match))
            yield return Diagnostic(DescriptorDiagnostics.NoMatchConstraint, spec.Location, spec.TypeName, spec.UdpPort.ToString());
    }

    private static bool ComesLater(FieldSpec candidate, FieldSpec other)
    {
        if (candidate.Location is null || other.Location is null)
            return candidate.Location is not null;
        var (c, o) = (candidate.Location.LineSpan.Start, other.Location.LineSpan.Start);
        return c.Line != o.Line ? c.Line > o.Line : c.Character > o.Character;
    }
}
