using System.Globalization;

namespace FastRelay.Protocols.Moq.Clients;

/// <summary>
/// Where a subscription starts (the draft-19 location filter), written <c>latest</c> (Largest Object: from the next
/// object after the largest the publisher has), <c>next-group</c> (Next Group Start) or <c>absolute G/O</c> (or
/// <c>G/O</c>: AbsoluteStart at group G object O).
/// </summary>
public abstract record SubscriptionStart
{
    private SubscriptionStart() { }

    public sealed record Latest : SubscriptionStart
    {
        public override string ToString() => "latest";
    }

    public sealed record NextGroup : SubscriptionStart
    {
        public override string ToString() => "next-group";
    }

    public sealed record Absolute(ulong Group, ulong Object) : SubscriptionStart
    {
        public override string ToString() => $"absolute {Group}/{Object}";
    }

    /// <exception cref="FormatException">Not one of the forms above.</exception>
    public static SubscriptionStart Parse(string text)
    {
        var t = text.Trim();
        if (t.Equals("latest", StringComparison.OrdinalIgnoreCase)) return new Latest();
        if (t.Equals("next-group", StringComparison.OrdinalIgnoreCase)) return new NextGroup();
        if (t.StartsWith("absolute", StringComparison.OrdinalIgnoreCase)) t = t["absolute".Length..].Trim(' ', ':', '=');
        var slash = t.IndexOf('/');
        if (slash > 0
            && ulong.TryParse(t.AsSpan(0, slash), NumberStyles.None, CultureInfo.InvariantCulture, out var group)
            && ulong.TryParse(t.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var obj))
            return new Absolute(group, obj);
        throw new FormatException($"'{text}': expected latest, next-group or absolute G/O (e.g. absolute 0/0)");
    }
}
