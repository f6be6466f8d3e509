using System.Collections.Generic;
using System.Linq;
using System.Threading;
using FastRelay.Generator.Diagnostics;
using FastRelay.Generator.Model;
using Microsoft.CodeAnalysis;

namespace FastRelay.Generator.Parsing;

/// <summary>Reads a descriptor type's attributes into a <see cref="DescriptorSpec"/>. This is the only place that
/// touches symbols; everything after it works on plain data.</summary>
internal static class DescriptorParser
{
    public const string ProtocolAttributeName = "FastRelay.Descriptors.FastRelayProtocolAttribute";
    private const string AttributeNamespace = "FastRelay.Descriptors";

    public static ParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var protocolAttribute = context.Attributes[0];
        var diagnostics = new List<DiagnosticInfo>();

        var name = protocolAttribute.ConstructorArguments.Length > 0
            ? protocolAttribute.ConstructorArguments[0].Value as string ?? ""
            : "";
        var named = protocolAttribute.NamedArguments.ToDictionary(a => a.Key, a => a.Value);
        int NamedInt(string key, int fallback) => named.TryGetValue(key, out var v) && v.Value is int i ? i : fallback;
        bool NamedBool(string key, bool fallback) => named.TryGetValue(key, out var v) && v.Value is bool b ? b : fallback;

        var fields = new List<FieldSpec>();
        foreach (var member in type.GetMembers())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var memberType = member switch
            {
                IPropertySymbol p => p.Type,
                IFieldSymbol f when !f.IsImplicitlyDeclared => f.Type,
                _ => null,
            };
            if (memberType is null)
                continue;
            foreach (var attribute in member.GetAttributes())
            {
                var field = ReadField(member.Name, memberType, attribute, diagnostics);
                if (field is not null)
                    fields.Add(field);
            }
        }

        var filePath = context.TargetNode.SyntaxTree.FilePath;
        var spec = new DescriptorSpec(
            ProtocolName: name,
            Namespace: type.ContainingNamespace.IsGlobalNamespace ? "" : type.ContainingNamespace.ToDisplayString(),
            TypeName: type.Name,
            FullTypeName: type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat).Replace("global::", ""),
            SourceFile: filePath,
            UdpPort: NamedInt("UdpPort", 0),
            MaxSubscribers: NamedInt("MaxSubscribers", 64),
            MaxChannels: NamedInt("MaxChannels", 1),
            PriorityDrop: NamedBool("PriorityDrop", false),
            KernelCachePackets: NamedInt("KernelCachePackets", 0),
            ChannelLookupEntries: NamedInt("ChannelLookupEntries", 4096),
            EncryptedSubscribers: NamedBool("EncryptedSubscribers", false),
            Fields: fields.OrderBy(f => f.Offset).ThenBy(f => f.Role).ToEquatableArray(),
            Location: LocationInfo.From(protocolAttribute.ApplicationSyntaxReference));

        if (type.ContainingType is not null)
            diagnostics.Add(Diagnostic(DescriptorDiagnostics.NestedDescriptor, spec.Location, type.Name, type.ContainingType.ToDisplayString()));
        diagnostics.AddRange(DescriptorValidator.Validate(spec));
        var hasErrors = diagnostics.Any(d => DescriptorDiagnostics.ById(d.Id).DefaultSeverity == DiagnosticSeverity.Error);
        return new ParseResult(spec, diagnostics.ToEquatableArray(), hasErrors);
    }

    private static FieldSpec? ReadField(string memberName, ITypeSymbol memberType, AttributeData attribute, List<DiagnosticInfo> diagnostics)
    {
        var attributeClass = attribute.AttributeClass;
        if (attributeClass is null || attributeClass.ContainingNamespace.ToDisplayString() != AttributeNamespace)
            return null;
        FieldRole? role = attributeClass.Name switch
        {
            "MatchAttribute" => FieldRole.Match,
            "PacketNumberAttribute" => FieldRole.PacketNumber,
            "StreamIdAttribute" => FieldRole.StreamId,
            "ConnectionIdAttribute" => FieldRole.ConnectionId,
            "PriorityAttribute" => FieldRole.Priority,
            "ChannelAttribute" => FieldRole.Channel,
            "PayloadAttribute" => FieldRole.Payload,
            "StreamOffsetAttribute" => FieldRole.StreamOffset,
            "FinFlagAttribute" => FieldRole.FinFlag,
            "MessageCountAttribute" => FieldRole.MessageCount,
            _ => null,
        };
        if (role is null)
            return null;

        var location = LocationInfo.From(attribute.ApplicationSyntaxReference);
        var args = attribute.ConstructorArguments;
        var offset = args.Length > 0 && args[0].Value is int o ? o : 0;
        var named = attribute.NamedArguments.ToDictionary(a => a.Key, a => a.Value.Value);
        T Named<T>(string key, T fallback) => named.TryGetValue(key, out var v) && v is T t ? t : fallback;

        var roleName = role.Value.ToString();
        var typeWidth = IntegerWidth(memberType);
        var explicitWidth = Named("Width", 0);
        int width;
        switch (role.Value)
        {
            case FieldRole.ConnectionId:
                width = args.Length > 1 && args[1].Value is int length ? length : 0;
                if (explicitWidth != 0)
                    diagnostics.Add(Diagnostic(DescriptorDiagnostics.SettingIgnored, location, roleName, memberName,
                        "Width does not apply: a connection id's length is the constructor's second argument"));
                if (!IsByteSequence(memberType))
                    diagnostics.Add(Diagnostic(DescriptorDiagnostics.UnsupportedMemberType, location,
                        roleName, memberName, memberType.ToDisplayString(), "byte[] or ReadOnlyMemory<byte>"));
                break;
            case FieldRole.Payload:
                width = 0;
                break;
            case FieldRole.FinFlag:
            case FieldRole.Priority:
                // Bits inside one byte: the member may be any integer, the field is always that byte.
                width = 1;
                var (bits, choose) = role.Value == FieldRole.Priority ? ("priority bits", "FirstBit and Bits") : ("flag bits", "Mask");
                if (typeWidth is null)
                    diagnostics.Add(Diagnostic(DescriptorDiagnostics.UnsupportedMemberType, location,
                        roleName, memberName, memberType.ToDisplayString(), $"an integer type (the {bits} are read from one byte)"));
                if (explicitWidth is not (0 or 1))
                    diagnostics.Add(Diagnostic(DescriptorDiagnostics.SettingIgnored, location, roleName, memberName,
                        $"Width must be 1: the {bits} are read from one byte (choose them with {choose})"));
                break;
            default:
                if (typeWidth is null)
                {
                    diagnostics.Add(Diagnostic(DescriptorDiagnostics.UnsupportedMemberType, location,
                        roleName, memberName, memberType.ToDisplayString(), "byte, ushort, uint or ulong"));
                    return null;
                }
                width = explicitWidth != 0 ? explicitWidth : typeWidth.Value;
                if (width > typeWidth.Value)
                    diagnostics.Add(Diagnostic(DescriptorDiagnostics.WidthDoesNotFitType, location,
                        roleName, memberName, width.ToString(), memberType.ToDisplayString(), typeWidth.Value.ToString()));
                break;
        }

        var byteOrderLittle = Named("ByteOrder", 0) == 1;
        var encoding = role.Value switch
        {
            FieldRole.ConnectionId or FieldRole.Payload => FieldEncoding.Bytes,
            FieldRole.StreamId or FieldRole.StreamOffset when Named("Encoding", 0) == 1 => FieldEncoding.QuicVarint,
            _ => byteOrderLittle ? FieldEncoding.LittleEndian : FieldEncoding.BigEndian,
        };

        return new FieldSpec(
            Role: role.Value,
            MemberName: memberName,
            Offset: offset,
            Width: width,
            Encoding: encoding,
            Translate: Named("Translate", true),
            MatchValue: Named("Value", 0UL),
            // A FinFlag's Mask is a byte; a Match's a ulong.
            MatchMask: role.Value == FieldRole.FinFlag ? Named<byte>("Mask", 0x01) : Named("Mask", ulong.MaxValue),
            ConnectionScope: Named("Scope", 0) == 1,
            PriorityFirstBit: Named("FirstBit", 0),
            PriorityBits: Named("Bits", 8),
            HigherIsMoreUrgent: Named("Order", 0) == 1,
            ChannelKey: Named("ChannelKey", false),
            Location: location);
    }

    private static int? IntegerWidth(ITypeSymbol type) => type.SpecialType switch
    {
        SpecialType.System_Byte or SpecialType.System_SByte => 1,
        SpecialType.System_UInt16 or SpecialType.System_Int16 => 2,
        SpecialType.System_UInt32 or SpecialType.System_Int32 => 4,
        SpecialType.System_UInt64 or SpecialType.System_Int64 => 8,
        _ => null,
    };

    private static bool IsByteSequence(ITypeSymbol type) =>
        type is IArrayTypeSymbol { ElementType.SpecialType: SpecialType.System_Byte }
        || type is INamedTypeSymbol { Name: "ReadOnlyMemory" or "Memory", TypeArguments.Length: 1 } named
            && named.TypeArguments[0].SpecialType == SpecialType.System_Byte;

    internal static DiagnosticInfo Diagnostic(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] args) =>
        new(descriptor.Id, location, args.ToEquatableArray());
}
