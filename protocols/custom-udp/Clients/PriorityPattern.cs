using System.Globalization;
using FastRelay.Protocols.CustomUdp.Wire;

namespace FastRelay.Protocols.CustomUdp.Clients;

/// <summary>
/// Which priority (0 = most urgent … 7) the publisher gives its n-th packet. Text forms:
/// <list type="bullet">
/// <item><c>0/10</c>: every 10th packet (n = 0, 10, 20, …) priority 0, the others round-robin over 1..7 (the default);</item>
/// <item><c>3</c>: every packet priority 3;</item>
/// <item><c>0,1,1,7</c>: the list, cycled.</item>
/// </list>
/// </summary>
public sealed class PriorityPattern
{
    private readonly byte[] _cycle;
    private readonly int _urgentEvery;

    private PriorityPattern(byte[] cycle, int urgentEvery, string text)
    {
        _cycle = cycle;
        _urgentEvery = urgentEvery;
        Text = text;
    }

    public string Text { get; }

    public static PriorityPattern Default { get; } = UrgentEvery(10);

    /// <summary>Every <paramref name="n"/>-th packet priority 0, the rest spread over 1..7 (n = 1: all 0).</summary>
    public static PriorityPattern UrgentEvery(int n) =>
        n >= 1 ? new PriorityPattern([], n, $"0/{n}") : throw new ArgumentOutOfRangeException(nameof(n), "n ≥ 1");

    public static PriorityPattern Cycle(params byte[] priorities)
    {
        if (priorities.Length == 0 || priorities.Any(p => p >= CustomUdpWire.PriorityLevels))
            throw new ArgumentException("priorities are 0..7, at least one", nameof(priorities));
        return new PriorityPattern(priorities.ToArray(), 0, string.Join(',', priorities));
    }

    /// <exception cref="FormatException">Not one of the forms above.</exception>
    public static PriorityPattern Parse(string text)
    {
        text = text.Trim();
        var slash = text.IndexOf('/');
        if (slash >= 0)
        {
            if (text[..slash].Trim() != "0" || !int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1)
                throw new FormatException($"'{text}': expected 0/N (every N-th packet priority 0, N ≥ 1)");
            return UrgentEvery(n);
        }
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var values = new byte[parts.Length];
        for (var i = 0; i < parts.Length; i++)
            if (!byte.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out values[i]) || values[i] > 7)
                throw new FormatException($"'{text}': priorities are 0..7 (a list like 0,3,7, or 0/N)");
        if (values.Length == 0) throw new FormatException("empty priority pattern");
        return Cycle(values);
    }

    /// <summary>Priority of packet <paramref name="index"/> (0-based).</summary>
    public byte For(ulong index)
    {
        if (_urgentEvery == 0) return _cycle[(int)(index % (ulong)_cycle.Length)];
        if (_urgentEvery == 1) return 0;
        var k = (ulong)_urgentEvery;
        if (index % k == 0) return 0;
        var others = index - index / k - 1; // how many non-urgent packets came before this one
        return (byte)(1 + others % 7);
    }

    public override string ToString() => Text;
}
