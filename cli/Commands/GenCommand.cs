using System.CommandLine;
using System.Diagnostics;
using FastRelay.Cli.Gen;
using FastRelay.Generated;

namespace FastRelay.Cli.Commands;

/// <summary>`fastrelay gen`: descriptors → &lt;proto&gt;.fastrelay.h → &lt;proto&gt;.bpf.o + manifest.json.</summary>
public static class GenCommand
{
    /// <summary>The name and the description are constants so that CliRoot can list this command without building
    /// it (a command line names one top-level command; only that one is built, docs/startup.md).</summary>
    public const string Name = "gen";

    public const string Description = "Generate the C header from descriptors and compile the TC programs with clang.";

    public static Command Create()
    {
        var profiles = new Option<string[]>("--profile", "-p")
        {
            Description = $"Bundled profile to build ({string.Join(", ", ProtocolCatalog.Bundled.Keys)}); repeatable. Default: all bundled profiles when no --assembly/--project is given.",
            AllowMultipleArgumentsPerToken = true,
        };
        var assemblies = new Option<string[]>("--assembly", "-a") { Description = "Built assembly holding [FastRelayProtocol] descriptors; repeatable." };
        var projects = new Option<string[]>("--project") { Description = "Project to build first, then read descriptors from its output; repeatable." };
        var outDir = new Option<string>("--out", "-o") { Description = "Output directory for headers, objects and manifest.json.", DefaultValueFactory = _ => "build/bpf" };
        var templates = new Option<string>("--templates") { Description = "bpf-templates directory.", DefaultValueFactory = _ => GenPipeline.DefaultTemplatesDir };
        var clang = new Option<string?>("--clang") { Description = "clang to use (default: clang on PATH, or $FASTRELAY_CLANG)." };

        var command = new Command(Name, Description)
        {
            profiles, assemblies, projects, outDir, templates, clang,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var selected = new List<GeneratedProtocol>();
            foreach (var project in parse.GetValue(projects) ?? [])
                selected.AddRange(ProtocolCatalog.FromAssembly(await ProjectBuilder.BuildAsync(project, cancellationToken)));
            foreach (var assembly in parse.GetValue(assemblies) ?? [])
                selected.AddRange(ProtocolCatalog.FromAssembly(assembly));
            var profileNames = parse.GetValue(profiles) ?? [];
            if (profileNames.Length == 0 && selected.Count == 0)
                profileNames = ProtocolCatalog.Bundled.Keys.ToArray();
            selected.AddRange(profileNames.Select(ProtocolCatalog.Profile));

            var output = Path.GetFullPath(parse.GetValue(outDir)!);
            var toolchain = await ClangToolchain.FindAsync(parse.GetValue(clang), cancellationToken);
            var pipeline = new GenPipeline(toolchain, parse.GetValue(templates)!, Console.Error);
            var manifest = Manifest.Load(output);
            foreach (var protocol in selected)
            {
                var clock = Stopwatch.StartNew();
                var built = await pipeline.BuildAsync(protocol, output, cancellationToken);
                manifest = manifest.With(built);
                manifest.Save(output); // after each protocol: what was built stays recorded if a later one fails
                Console.WriteLine($"{protocol.Name}: {Path.GetRelativePath(Environment.CurrentDirectory, Path.Combine(output, built.Object))} " +
                                  $"({built.Programs.Count} programs, {built.Maps.Count} maps) in {clock.Elapsed.TotalSeconds:0.00} s");
            }
            Console.WriteLine($"manifest: {Path.GetRelativePath(Environment.CurrentDirectory, Path.Combine(output, Manifest.FileName))}");
            return 0;
        });
        return command;
    }
}
