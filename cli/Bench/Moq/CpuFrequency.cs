using System.Globalization;

namespace FastRelay.Cli.Bench.Moq;

/// <summary>The CPU clock to turn ns into cycles: cpufreq's current frequency of CPU 0 when the kernel exposes it, else
/// the "cpu MHz" line of /proc/cpuinfo (a VM's nominal clock); null when neither exists.</summary>
public static class CpuFrequency
{
    public static (double Mhz, string Source)? Read()
    {
        try
        {
            const string cpufreq = "/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq";
            if (File.Exists(cpufreq) && double.TryParse(File.ReadAllText(cpufreq).Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var khz) && khz > 0)
                return (khz / 1000, cpufreq);
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("cpu MHz", StringComparison.Ordinal)
                    && double.TryParse(line[(line.IndexOf(':') + 1)..].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var mhz) && mhz > 0)
                    return (mhz, "/proc/cpuinfo cpu MHz");
        }
        catch (IOException)
        {
        }
        return null;
    }

    public static string? ModelName()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) is { } line
                ? line[(line.IndexOf(':') + 1)..].Trim()
                : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
