using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using FastRelay.Generated;
using Xunit;

namespace FastRelay.Tests.Generator;

/// <summary>Helpers for tests of descriptors written in the test itself: load what the generator produced, and cut
/// functions out of the C header it emitted.</summary>
public static class GeneratedAssemblies
{
    /// <summary>Emits the output compilation, loads it into a collectible context (FastRelay.Runtime resolves to the
    /// test's own copy, so GeneratedProtocol is the same type), runs <paramref name="test"/> on the generated class,
    /// then unloads.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void WithLoaded(GeneratorRun run, string generatedClass, Action<Type> test)
    {
        using var image = new MemoryStream();
        var emit = run.OutputCompilation.Emit(image);
        Assert.True(emit.Success, "emit failed:\n" + string.Join("\n", emit.Diagnostics));
        image.Position = 0;
        var context = new AssemblyLoadContext("fastrelay-generator-test", isCollectible: true);
        try
        {
            var assembly = context.LoadFromStream(image);
            var attribute = Assert.Single(assembly.GetCustomAttributes<GeneratedFastRelayProtocolAttribute>());
            Assert.Equal(generatedClass, attribute.Holder.FullName);
            test(attribute.Holder);
        }
        finally
        {
            context.Unload();
        }
    }

    /// <summary>The generated <c>Protocol</c> record of a loaded generated class.</summary>
    public static GeneratedProtocol Protocol(Type holder) =>
        Assert.IsType<GeneratedProtocol>(holder.GetProperty("Protocol", BindingFlags.Public | BindingFlags.Static)!.GetValue(null));

    /// <summary>One C function of the header, from its signature line to its closing brace.</summary>
    public static string Function(string header, string name)
    {
        var lines = header.Split('\n');
        var start = Array.FindIndex(lines, l => l.StartsWith("static __always_inline", StringComparison.Ordinal) && l.Contains(" " + name + "("));
        Assert.True(start >= 0, $"{name} not found in the header");
        if (lines[start].EndsWith('}'))
            return lines[start];
        var end = Array.FindIndex(lines, start, l => l == "}");
        return string.Join("\n", lines[start..(end + 1)]);
    }
}
