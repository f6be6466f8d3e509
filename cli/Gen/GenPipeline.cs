using System.Security.Cryptography;
using System.Text.RegularExpressions;
using FastRelay.Generated;

namespace FastRelay.Cli.Gen;

/// <summary>
/// `fastrelay gen`: for each protocol, write the generated header, compile bpf-templates/relay.bpf.c against it with
/// clang, and record the result in manifest.json. Protocol knowledge comes only from <see cref="GeneratedProtocol"/>.
/// </summary>
public sealed class GenPipeline(ClangToolchain clang, string templatesDir, TextWriter log)
{
    public const string ProgramSource = "relay.bpf.c";

    public static string DefaultTemplatesDir => Path.Combine(AppContext.BaseDirectory, "bpf-templates");

    /// <summary>What a relay does at start-up (about 0.3 s): generate and compile <paramref name="protocol"/>'s object into a
    /// folder of its own instance, so it always runs the programs that match this build's descriptor. Returns the object's path.</summary>
    public static async Task<string> BuildForRelayAsync(GeneratedProtocol protocol, string instance, string? templatesDir, CancellationToken cancellationToken)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"fastrelay-{protocol.Name}-{instance}-bpf");
        var clang = await ClangToolchain.FindAsync(null, cancellationToken);
        var built = await new GenPipeline(clang, templatesDir ?? DefaultTemplatesDir, TextWriter.Null).BuildAsync(protocol, dir, cancellationToken);
        return Path.Combine(dir, built.Object);
    }

    public async Task<ManifestProtocol> BuildAsync(GeneratedProtocol protocol, string outDir, CancellationToken cancellationToken)
    {
        var source = Path.Combine(templatesDir, ProgramSource);
        if (!File.Exists(source))
            throw new UserFacingException($"BPF templates not found: {source} (pass --templates DIR)");
        Directory.CreateDirectory(outDir);

        var headerPath = Path.Combine(outDir, protocol.HeaderFileName);
        WriteIfChanged(headerPath, protocol.CHeader);
        var objectPath = Path.Combine(outDir, protocol.ObjectFileName);
        var temporaryObject = objectPath + ".tmp";

        string warnings;
        try
        {
            warnings = await clang.CompileBpfAsync(source, temporaryObject,
                // crypto/: the packet protection an EncryptedSubscribers descriptor's object includes (unused otherwise).
                new[] { Path.Combine(templatesDir, "include"), Path.Combine(templatesDir, "crypto"), outDir },
                new[] { $"FR_PROTOCOL_HEADER=\"{protocol.HeaderFileName}\"" },
                cancellationToken);
        }
        catch (ClangFailedException e)
        {
            File.Delete(temporaryObject);
            throw new UserFacingException(ExplainClangFailure(protocol, headerPath, e.Diagnostics));
        }
        File.Move(temporaryObject, objectPath, overwrite: true);
        if (warnings.Length > 0)
            log.Write(warnings);

        var eventStruct = protocol.Structs.First(s => s.CName == "fr_event");
        return new ManifestProtocol(
            Name: protocol.Name,
            Descriptor: protocol.DescriptorType,
            SourceFile: protocol.SourceFile,
            UdpPort: protocol.UdpPort,
            MaxSubscribers: protocol.MaxSubscribers,
            MaxChannels: protocol.MaxChannels,
            Object: protocol.ObjectFileName,
            ObjectSha256: Sha256File(objectPath),
            Header: protocol.HeaderFileName,
            HeaderSha256: Sha256File(headerPath),
            TemplatesSha256: Sha256Tree(templatesDir),
            Clang: clang.Version,
            Programs: protocol.Programs,
            Maps: protocol.Maps,
            Structs: protocol.Structs,
            Events: new ManifestEvent("fr_events", eventStruct.CName, eventStruct.Size));
    }

    /// <summary>Errors inside the generated header come from the descriptor: say so, and name it.</summary>
    private static string ExplainClangFailure(GeneratedProtocol protocol, string headerPath, string diagnostics)
    {
        var inHeader = Regex.IsMatch(diagnostics, Regex.Escape(Path.GetFileName(headerPath)) + @":\d+:\d+: error");
        var where = inHeader
            ? $"the header generated from descriptor {protocol.DescriptorType} ({protocol.SourceFile}) does not compile; " +
              "this is a generator bug unless the descriptor produced something unexpected"
            : $"bpf-templates/{ProgramSource} did not compile against the header of {protocol.DescriptorType} ({protocol.SourceFile})";
        return $"clang failed for protocol '{protocol.Name}': {where}\n{diagnostics.TrimEnd()}";
    }

    /// <summary>Keeps the header's timestamp when nothing changed, so make-style tools don't rebuild needlessly.</summary>
    private static void WriteIfChanged(string path, string text)
    {
        if (File.Exists(path) && File.ReadAllText(path) == text)
            return;
        File.WriteAllText(path, text);
    }

    private static string Sha256File(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    private static string Sha256Tree(string dir)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
                     .Where(f => f.EndsWith(".c") || f.EndsWith(".h"))
                     .OrderBy(f => f, StringComparer.Ordinal))
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetRelativePath(dir, file) + "\n"));
            hash.AppendData(File.ReadAllBytes(file));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
