using System.CommandLine;
using System.Security.Cryptography;
using FastRelay.Bpf;
using FastRelay.Cli.Gen;

namespace FastRelay.Cli.Commands;

/// <summary>`fastrelay verify DIR`: load every program of every object into the kernel and print the verifier's
/// verdict; with a manifest, also check the object's BTF against the layouts the C# mirrors were generated with.</summary>
public static class VerifyCommand
{
    /// <summary>The name and the description are constants so that CliRoot can list this command without building
    /// it (a command line names one top-level command; only that one is built, docs/startup.md).</summary>
    public const string Name = "verify";

    public const string Description = "Load every program into the kernel and report the verifier's verdict.";

    /// <summary>The command's argument; also on the command's entry in the root's listing (CliRoot), which shows it.</summary>
    public static Argument<string> CreatePathArgument() => new("path") { Description = "A directory written by `fastrelay gen` (or a single .bpf.o)." };

    public static Command Create()
    {
        var target = CreatePathArgument();
        var verbose = new Option<bool>("--log") { Description = "Print the verifier log of accepted programs too." };
        var command = new Command(Name, Description) { target, verbose };
        command.SetAction(parse => Run(parse.GetValue(target)!, parse.GetValue(verbose), Console.Out));
        return command;
    }

    public static int Run(string path, bool printAcceptedLogs, TextWriter output)
    {
        var full = Path.GetFullPath(path);
        var entries = Resolve(full);
        var failures = 0;
        foreach (var (objectPath, protocol) in entries)
        {
            output.WriteLine(Path.GetFileName(objectPath) + (protocol is null ? "" : $" ({protocol.Descriptor})"));
            if (protocol is not null && Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(objectPath))) != protocol.ObjectSha256)
                output.WriteLine("  warning: the object differs from the one manifest.json records; run `fastrelay gen` again");

            foreach (var verdict in ProgramVerifier.VerifyObject(objectPath))
            {
                if (verdict.Accepted)
                {
                    output.WriteLine($"  {verdict.Name,-24} accepted  {verdict.Instructions} insns, {verdict.VerifiedInstructions} verified");
                    if (printAcceptedLogs && !string.IsNullOrEmpty(verdict.VerifierLog))
                        output.WriteLine(Indent(verdict.VerifierLog));
                }
                else
                {
                    failures++;
                    output.WriteLine($"  {verdict.Name,-24} REJECTED  {verdict.Error}");
                    if (!string.IsNullOrEmpty(verdict.VerifierLog))
                        output.WriteLine(Indent(verdict.VerifierLog));
                }
            }

            if (protocol is not null)
            {
                using var obj = BpfObject.Open(objectPath);
                var mismatches = BtfLayoutCheck.Compare(obj, protocol.Structs);
                if (mismatches.Count == 0)
                    output.WriteLine($"  layout: {protocol.Structs.Count} shared structs match the C# mirrors (BTF)");
                else
                {
                    failures++;
                    output.WriteLine($"  layout: {mismatches.Count} mismatches between BTF and the C# mirrors");
                    foreach (var mismatch in mismatches)
                        output.WriteLine("    " + mismatch);
                }
            }
        }
        output.WriteLine(failures == 0 ? "all programs accepted by the kernel" : $"{failures} problem(s)");
        return failures == 0 ? 0 : 2;
    }

    private static List<(string Object, ManifestProtocol? Protocol)> Resolve(string path)
    {
        if (File.Exists(path))
            return new() { (path, null) };
        if (!Directory.Exists(path))
            throw new UserFacingException($"{path} does not exist; run `fastrelay gen` first");
        if (File.Exists(Path.Combine(path, Manifest.FileName)))
        {
            var manifest = Manifest.Load(path);
            var listed = manifest.Protocols.Select(p => (Path.Combine(path, p.Object), (ManifestProtocol?)p)).ToList();
            foreach (var (obj, _) in listed.Where(e => !File.Exists(e.Item1)))
                throw new UserFacingException($"manifest.json lists {Path.GetFileName(obj)} but it is missing; run `fastrelay gen` again");
            return listed;
        }
        var objects = Directory.GetFiles(path, "*.bpf.o").Order(StringComparer.Ordinal).Select(o => (o, (ManifestProtocol?)null)).ToList();
        return objects.Count > 0 ? objects : throw new UserFacingException($"no *.bpf.o in {path}");
    }

    private static string Indent(string text) =>
        string.Join('\n', text.TrimEnd().Split('\n').Select(l => "    | " + l));
}
