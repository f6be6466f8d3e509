using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace FastRelay.Generator.Diagnostics;

/// <summary>Every diagnostic the generator reports about a descriptor. Ids are stable: docs and users' suppressions
/// refer to them, so never renumber; add new ones at the end.</summary>
public static class DescriptorDiagnostics
{
    private const string Category = "FastRelay.Descriptor";

    public static readonly DiagnosticDescriptor InvalidProtocolName = Error("FR0001",
        "Invalid protocol name",
        "Protocol name '{0}' must be a C identifier (letters, digits, '_', not starting with a digit), at most 32 characters");

    public static readonly DiagnosticDescriptor InvalidSetting = Error("FR0002",
        "Invalid relay setting",
        "{0} = {1} is out of range; allowed: {2}");

    public static readonly DiagnosticDescriptor UnsupportedWidth = Error("FR0003",
        "Unsupported field width",
        "{0} field '{1}' has width {2}; supported: {3}");

    public static readonly DiagnosticDescriptor WidthDoesNotFitType = Error("FR0004",
        "Field width does not fit the member type",
        "{0} field '{1}' is {2} bytes wide but its type '{3}' holds only {4}");

    public static readonly DiagnosticDescriptor BeyondHeaderDepth = Error("FR0005",
        "Field past the supported header depth",
        "{0} field '{1}' reaches byte {2} of the UDP payload; the fast path reads only the first {3} bytes");

    public static readonly DiagnosticDescriptor OverlappingFields = Error("FR0006",
        "Overlapping fields",
        "{0} field '{1}' (bytes {2}..{3}) overlaps {4} field '{5}' (bytes {6}..{7}); the kernel rewrites {8} per subscriber, so no other field may share its bytes");

    public static readonly DiagnosticDescriptor DuplicateRole = Error("FR0007",
        "Role given twice",
        "A descriptor has one {0} field; '{1}' repeats it (first on '{2}')");

    public static readonly DiagnosticDescriptor MissingRole = Error("FR0008",
        "Required field missing",
        "{0} needs a [{1}] field");

    public static readonly DiagnosticDescriptor PriorityBitsOutsideByte = Error("FR0009",
        "Priority bits outside their byte",
        "Priority field '{0}' uses bits {1}..{2}; priority bits must lie within one byte (0..7) and be at least one bit");

    public static readonly DiagnosticDescriptor MatchValueOutsideMask = Error("FR0010",
        "Match value can never match",
        "Match on '{0}': value {1} has bits outside mask {2} or beyond the field's {3} bytes, so no packet can match");

    public static readonly DiagnosticDescriptor FieldAfterPayload = Error("FR0011",
        "Field inside the payload",
        "{0} field '{1}' ends at byte {2}, after the payload start {3}; header fields must end before the payload");

    public static readonly DiagnosticDescriptor NoMatchConstraint = Warning("FR0012",
        "No match constraint",
        "Descriptor '{0}' has no [Match] field: every UDP packet to port {1} with enough bytes will be fanned out");

    public static readonly DiagnosticDescriptor UnsupportedMemberType = Error("FR0013",
        "Unsupported member type",
        "{0} field '{1}' has type '{2}'; use {3}");

    public static readonly DiagnosticDescriptor NegativeOffset = Error("FR0014",
        "Negative offset",
        "{0} field '{1}' has offset {2}; offsets count bytes from the start of the UDP payload and cannot be negative");

    public static readonly DiagnosticDescriptor DuplicateProtocolName = Error("FR0015",
        "Protocol name used twice",
        "Protocol name '{0}' is already used by '{1}'; generated files would overwrite each other");

    public static readonly DiagnosticDescriptor NestedDescriptor = Error("FR0016",
        "Descriptor nested in another type",
        "Descriptor '{0}' is nested in '{1}'; declare descriptors as top-level types (the generated class sits beside it in the namespace)");

    public static readonly DiagnosticDescriptor SettingIgnored = Error("FR0017",
        "Option does not apply to this field",
        "{0} field '{1}': {2}");

    public static readonly DiagnosticDescriptor KernelCacheTooLarge = Error("FR0018",
        "Kernel cache too large",
        "MaxChannels × KernelCachePackets = {0} × {1} = {2} entries of {3} bytes: {4} MiB of kernel memory that cannot be swapped out, more than the {5} MiB allowed; lower MaxChannels or KernelCachePackets");

    public static readonly DiagnosticDescriptor KernelCacheLarge = Warning("FR0019",
        "Large kernel cache",
        "MaxChannels × KernelCachePackets = {0} × {1} = {2} entries of {3} bytes: fr_cache pins {4} MiB of kernel memory that cannot be swapped out");

    public static readonly DiagnosticDescriptor ChannelNamedTwice = Error("FR0020",
        "Channel given two ways",
        "Channel field '{0}' and channel key field '{1}' both name the channel; use a [Channel] field (the channel is in the packet) or ChannelKey fields (userspace assigns header values to channels), not both");

    public static readonly DiagnosticDescriptor RenumberedMessageSequence = Error("FR0021",
        "Sequence that advances by a message count renumbered per datagram",
        "PacketNumber '{0}' numbers the first message and advances by MessageCount '{1}' per datagram; renumbering it by one per datagram (Translate = true) would break every receiver's sequence: set Translate = false (passed through)");

    public static readonly DiagnosticDescriptor KernelCacheOfMessageSequence = Error("FR0022",
        "Kernel cache over a sequence that advances by a message count",
        "KernelCachePackets = {0} keeps a datagram in slot (packet number mod {0}), but PacketNumber '{1}' advances by MessageCount '{2}' per datagram: datagrams would share slots and the cache would have holes; set KernelCachePackets = 0");

    public static IReadOnlyList<DiagnosticDescriptor> All { get; } = new[]
    {
        InvalidProtocolName, InvalidSetting, UnsupportedWidth, WidthDoesNotFitType, BeyondHeaderDepth,
        OverlappingFields, DuplicateRole, MissingRole, PriorityBitsOutsideByte, MatchValueOutsideMask,
        FieldAfterPayload, NoMatchConstraint, UnsupportedMemberType, NegativeOffset, DuplicateProtocolName,
        NestedDescriptor, SettingIgnored, KernelCacheTooLarge, KernelCacheLarge, ChannelNamedTwice,
        RenumberedMessageSequence, KernelCacheOfMessageSequence,
    };

    private static readonly Dictionary<string, DiagnosticDescriptor> ByIdMap = All.ToDictionary(d => d.Id);

    public static DiagnosticDescriptor ById(string id) => ByIdMap[id];

    private static DiagnosticDescriptor Error(string id, string title, string message) =>
        new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    private static DiagnosticDescriptor Warning(string id, string title, string message) =>
        new(id, title, message, Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);
}
