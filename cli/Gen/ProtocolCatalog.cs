using System.Reflection;
using System.Runtime.Loader;
using FastRelay.Generated;
using FastRelay.Protocols.CustomUdp;
using FastRelay.Protocols.Quic;

namespace FastRelay.Cli.Gen;

/// <summary>Finds generated protocols: the bundled profiles by name, or every descriptor in a built assembly.</summary>
public static class ProtocolCatalog
{
    /// <summary>Bundled profiles, by the name users type (`--profile custom-udp`).</summary>
    public static IReadOnlyDictionary<string, GeneratedProtocol> Bundled { get; } = new Dictionary<string, GeneratedProtocol>(StringComparer.OrdinalIgnoreCase)
    {
        ["custom-udp"] = CustomUdpHeaderFastPath.Protocol,
        ["quic"] = QuicMoqHeaderFastPath.Protocol,
    };

    public static GeneratedProtocol Profile(string name) =>
        Bundled.TryGetValue(name, out var protocol)
            ? protocol
            : throw new UserFacingException($"unknown profile '{name}'; bundled profiles: {string.Join(", ", Bundled.Keys)}");

    /// <summary>Loads a built assembly (and its dependencies from its folder) and returns the protocols its
    /// generator output registered. FastRelay.Descriptors (where GeneratedProtocol lives) and FastRelay.Runtime are
    /// shared with the CLI so the types match.</summary>
    public static IReadOnlyList<GeneratedProtocol> FromAssembly(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new UserFacingException($"assembly not found: {full}");
        var context = new DescriptorLoadContext(full);
        var assembly = context.LoadFromAssemblyPath(full);
        var protocols = new List<GeneratedProtocol>();
        foreach (var attribute in assembly.GetCustomAttributes<GeneratedFastRelayProtocolAttribute>())
        {
            var property = attribute.Holder.GetProperty("Protocol", BindingFlags.Public | BindingFlags.Static);
            if (property?.GetValue(null) is GeneratedProtocol protocol)
                protocols.Add(protocol);
        }
        if (protocols.Count == 0)
            throw new UserFacingException(
                $"{Path.GetFileName(full)} holds no FastRelay descriptors: is a type marked [FastRelayProtocol] and does the project reference generator/FastRelay.Generator.csproj as an analyzer?");
        return protocols;
    }

    /// <summary>The descriptor type a protocol was generated from, found among the assemblies loaded so far (the userspace
    /// copy loop reads the descriptor's attributes).</summary>
    public static Type DescriptorType(GeneratedProtocol protocol) =>
        AssemblyLoadContext.All.SelectMany(c => c.Assemblies)
            .Select(a => a.GetType(protocol.DescriptorType, throwOnError: false))
            .FirstOrDefault(t => t is not null)
        ?? throw new UserFacingException($"descriptor type {protocol.DescriptorType} of {protocol.Name} is not loaded");

    private sealed class DescriptorLoadContext(string mainAssembly) : AssemblyLoadContext(isCollectible: false)
    {
        private static readonly string?[] Shared =
            [typeof(GeneratedProtocol).Assembly.GetName().Name, typeof(FastRelay.Bpf.BpfObject).Assembly.GetName().Name];

        private readonly AssemblyDependencyResolver _resolver = new(mainAssembly);

        protected override Assembly? Load(AssemblyName name)
        {
            if (Shared.Contains(name.Name))
                return null; // share the CLI's copies: attribute, record and map types must be the same types
            var path = _resolver.ResolveAssemblyToPath(name);
            return path is null ? null : LoadFromAssemblyPath(path);
        }
    }
}
