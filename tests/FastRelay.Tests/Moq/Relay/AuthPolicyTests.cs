using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Relay.Auth;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using Xunit;

namespace FastRelay.Tests.Moq.Relay;

public class AuthPolicyTests
{
    private static readonly AuthToken[] None = [];
    private static AuthToken[] T(string value) => [AuthToken.FromText(value)];

    [Fact]
    public void OpenPolicyAllowsEverything()
    {
        var open = RelayAuthPolicy.Open;
        Assert.True(open.IsOpen);
        Assert.True(open.IsAllowed(RelayAction.Publish, RelayNames.Namespace("any/thing"), None));
        Assert.True(open.MayDiscover(MoqTrackNamespace.Empty, None));
    }

    [Fact]
    public void SingleTokenGuardsBothActionsEverywhere()
    {
        var policy = RelayAuthPolicy.SingleToken("s3cret");
        var ns = RelayNames.Namespace("live/cam");
        Assert.True(policy.IsAllowed(RelayAction.Publish, ns, T("s3cret")));
        Assert.True(policy.IsAllowed(RelayAction.Subscribe, ns, T("s3cret")));
        Assert.False(policy.IsAllowed(RelayAction.Subscribe, ns, None));
        Assert.False(policy.IsAllowed(RelayAction.Subscribe, ns, T("s3cre")));
        Assert.False(policy.IsAllowed(RelayAction.Publish, ns, T("S3cret")));
        // Any one matching token among several is enough.
        Assert.True(policy.IsAllowed(RelayAction.Publish, ns, [AuthToken.FromText("x"), AuthToken.FromText("s3cret")]));
    }

    [Fact]
    public void TheLongestPrefixWithARuleGovernsAndUncoveredNamespacesAreRefused()
    {
        var policy = AuthFile.Parse("""
            { "namespaces": {
                "live": { "publish": ["pub"], "subscribe": ["*"] },
                "live/private": { "publish": ["pub"], "subscribe": ["viewer"] },
                "dropbox": { "publish": ["*"] }
            } }
            """);
        Assert.True(policy.IsAllowed(RelayAction.Subscribe, RelayNames.Namespace("live/cam1"), None));
        Assert.False(policy.IsAllowed(RelayAction.Publish, RelayNames.Namespace("live/cam1"), None));
        Assert.True(policy.IsAllowed(RelayAction.Publish, RelayNames.Namespace("live/cam1"), T("pub")));
        // live/private overrides live's "*".
        Assert.False(policy.IsAllowed(RelayAction.Subscribe, RelayNames.Namespace("live/private/x"), None));
        Assert.True(policy.IsAllowed(RelayAction.Subscribe, RelayNames.Namespace("live/private/x"), T("viewer")));
        // No subscribe list: nobody subscribes there; anyone publishes.
        Assert.True(policy.IsAllowed(RelayAction.Publish, RelayNames.Namespace("dropbox"), None));
        Assert.False(policy.IsAllowed(RelayAction.Subscribe, RelayNames.Namespace("dropbox"), T("pub")));
        // Not covered by any rule.
        Assert.False(policy.IsAllowed(RelayAction.Subscribe, RelayNames.Namespace("other"), T("viewer")));
        Assert.False(policy.IsAllowed(RelayAction.Publish, RelayNames.Namespace("liveX"), T("pub")));
    }

    [Fact]
    public void DiscoveryIsAllowedWhereTheTokensOpenSomethingBelowThePrefix()
    {
        var policy = AuthFile.Parse("""{ "namespaces": { "a/b": { "subscribe": ["t"] }, "a/c": { "subscribe": ["u"] } } }""");
        Assert.True(policy.MayDiscover(RelayNames.Namespace("a"), T("t")));
        Assert.True(policy.MayDiscover(MoqTrackNamespace.Empty, T("u")));
        Assert.False(policy.MayDiscover(RelayNames.Namespace("a"), T("v")));
        Assert.False(policy.MayDiscover(RelayNames.Namespace("z"), T("t")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("{}")]
    [InlineData("""{ "namespaces": {} }""")]
    public void AMalformedOrEmptyAuthFileIsAnError(string json)
    {
        Assert.Throws<FormatException>(() => AuthFile.Parse(json));
    }
}
