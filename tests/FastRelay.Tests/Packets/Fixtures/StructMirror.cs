using System.Reflection;

namespace FastRelay.Tests.Packets.Fixtures;

/// <summary>
/// Copies the <c>ulong</c> counters of a generated struct into the test's neutral record, by name. Every generated
/// field must have a property of the same name and every property must be filled, so a renamed, missing or extra
/// generated counter fails the test instead of silently reading 0.
/// </summary>
public static class StructMirror
{
    public static TView Sum<TGenerated, TView>(IEnumerable<TGenerated> values) where TGenerated : struct where TView : new()
    {
        var fields = typeof(TGenerated).GetFields(BindingFlags.Public | BindingFlags.Instance);
        var properties = typeof(TView).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.PropertyType == typeof(ulong)).ToDictionary(p => p.Name);
        var missing = properties.Keys.Except(fields.Select(f => f.Name)).ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException($"{typeof(TGenerated).FullName} lacks {string.Join(", ", missing)}");

        var totals = new Dictionary<string, ulong>();
        foreach (var value in values)
        {
            foreach (var field in fields)
            {
                if (field.FieldType != typeof(ulong))
                    throw new InvalidOperationException($"{typeof(TGenerated).Name}.{field.Name} is {field.FieldType.Name}, not ulong");
                totals[field.Name] = totals.GetValueOrDefault(field.Name) + (ulong)field.GetValue(value)!;
            }
        }

        var view = new TView();
        foreach (var field in fields)
        {
            if (!properties.TryGetValue(field.Name, out var property))
                throw new InvalidOperationException($"{typeof(TView).Name} has no property for generated counter {field.Name}");
            property.SetValue(view, totals.GetValueOrDefault(field.Name));
        }
        return view;
    }
}
