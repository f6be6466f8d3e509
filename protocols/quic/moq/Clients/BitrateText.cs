using System.Globalization;

namespace FastRelay.Protocols.Moq.Clients;

/// <summary>Bit rates as written on the command line: <c>2000000</c>, <c>500k</c>, <c>2M</c>, <c>2.5M</c>, <c>1G</c>
/// (decimal multipliers; an optional "bit/s", "bps" or "b" after the unit is ignored).</summary>
public static class BitrateText
{
    /// <exception cref="FormatException">Not a positive number with an optional k/M/G.</exception>
    public static long Parse(string text)
    {
        var t = text.Trim();
        foreach (var suffix in new[] { "bit/s", "bps", "b" })
            if (t.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) && t.Length > suffix.Length)
            {
                t = t[..^suffix.Length];
                break;
            }
        double multiplier = 1;
        if (t.Length > 0)
            switch (char.ToLowerInvariant(t[^1]))
            {
                case 'k': multiplier = 1e3; t = t[..^1]; break;
                case 'm': multiplier = 1e6; t = t[..^1]; break;
                case 'g': multiplier = 1e9; t = t[..^1]; break;
            }
        if (!double.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || !(value > 0) || value * multiplier > 1e12)
            throw new FormatException($"'{text}': expected a bit rate like 2000000, 500k, 2M or 2.5M");
        return (long)Math.Round(value * multiplier);
    }
}
