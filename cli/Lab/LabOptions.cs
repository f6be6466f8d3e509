using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace FastRelay.Cli.Lab;

/// <summary>What <see cref="LabTopology.UpAsync"/> builds.</summary>
public sealed partial record LabOptions
{
    /// <summary>Namespace prefix: lowercase letters and digits, starting with a letter, at most
    /// <see cref="MaxPrefixLength"/> characters. Default: <c>fr</c> + 4 random hex digits.</summary>
    public string? Prefix { get; init; }

    /// <summary>Number of subscriber hosts (<c>&lt;prefix&gt;-s0</c> …), 0 to <see cref="MaxSubscribers"/>.</summary>
    public int Subscribers { get; init; } = 1;

    /// <summary>1: relay, publisher and subscribers share one bridged segment. 2: relay eth0 ↔ publisher on a
    /// point-to-point veth, relay eth1 on the bridge with the subscribers.</summary>
    public int RelayInterfaces { get; init; } = 1;

    /// <summary>Adds a second relay host, <c>&lt;prefix&gt;-edge</c>, on the subscribers' bridge (.3 / ::3): a chain
    /// publisher → relay (the origin) → edge relay → subscribers, each hop on-link. Off by default.</summary>
    public bool EdgeRelay { get; init; }

    /// <summary>MTU of every lab link (veths and bridge); null keeps the kernel default (1500). At least 1280 (IPv6).</summary>
    public int? Mtu { get; init; }

    /// <summary>How long to wait for links to come up, bridge ports to forward and IPv6 addresses to leave DAD.</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Called before each setup step with a short description ("netns add fr12ab-s0", …). Progress output for
    /// the CLI; an exception thrown here aborts <see cref="LabTopology.UpAsync"/>, which then removes what it created
    /// (tests use that to inject a failure midway). May be called from several threads at once.</summary>
    public Action<string>? OnStep { get; init; }

    /// <summary>The bpf-templates directory holding <c>lab/loss.bpf.c</c>. Default: next to the fastrelay assembly.</summary>
    public string? TemplatesDirectory { get; init; }

    /// <summary>clang for <see cref="LabNetwork.SetLossAsync"/>. Default: $FASTRELAY_CLANG or clang on PATH.</summary>
    public string? Clang { get; init; }

    public const int MaxPrefixLength = 10;
    public const int MaxSubscribers = 200;

    /// <summary>Namespace prefix of labs created with the default prefix: <c>fr</c> + 4 hex digits.</summary>
    public static Regex DefaultPrefixPattern { get; } = DefaultPrefixRegex();

    public static string RandomPrefix() => "fr" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2));

    /// <summary>Throws <see cref="UserFacingException"/> when an option is out of range.</summary>
    public void Validate()
    {
        if (Prefix is not null && !PrefixRegex().IsMatch(Prefix))
            throw new UserFacingException(
                $"lab prefix '{Prefix}' is invalid: use 1-{MaxPrefixLength} lowercase letters/digits starting with a letter");
        if (Subscribers is < 0 or > MaxSubscribers)
            throw new UserFacingException($"subscriber count {Subscribers} is out of range 0..{MaxSubscribers}");
        if (RelayInterfaces is not (1 or 2))
            throw new UserFacingException($"relay interfaces must be 1 or 2, not {RelayInterfaces}");
        if (Mtu is { } mtu && mtu is < 1280 or > 65535)
            throw new UserFacingException($"MTU {mtu} is out of range 1280..65535 (IPv6 needs at least 1280)");
    }

    [GeneratedRegex("^[a-z][a-z0-9]{0,9}$")]
    private static partial Regex PrefixRegex();

    [GeneratedRegex("^fr[0-9a-f]{4}$")]
    private static partial Regex DefaultPrefixRegex();
}
