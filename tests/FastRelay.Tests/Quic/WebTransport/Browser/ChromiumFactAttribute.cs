using Xunit;

namespace FastRelay.Tests.Quic.WebTransport.Browser;

/// <summary>
/// A fact that needs headless Chromium. When it is missing the test is skipped naming it, except under CI=true, where
/// it runs and fails loudly instead (as the BPF and ngtcp2 tests do).
/// </summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (ChromiumHarness.MissingChromium is { } missing && !FastRelay.Tests.Runtime.BpfCapabilities.IsCi)
            Skip = $"missing {missing}; set CI=true to make this a failure";
    }
}

/// <summary>A fact that needs Chromium and the @moq/net harness of tests/browser (npm ci). Same skip rule.</summary>
public sealed class ChromiumMoqFactAttribute : FactAttribute
{
    public ChromiumMoqFactAttribute()
    {
        if (ChromiumHarness.MissingMoqBundle is { } missing && !FastRelay.Tests.Runtime.BpfCapabilities.IsCi)
            Skip = $"missing {missing}; set CI=true to make this a failure";
    }
}

/// <summary>Browser tests run one at a time: several Chromiums at once on a 2-core machine shared with other work made
/// the network service drop a WebTransport session ("Connection lost", a mojo validation error) once in a few runs.</summary>
[CollectionDefinition(Name)]
public sealed class ChromiumCollection
{
    public const string Name = "Chromium";
}
