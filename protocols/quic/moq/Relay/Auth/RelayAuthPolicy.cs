using FastRelay.Protocols.Moq.Wire;
using System.Security.Cryptography;
using FastRelay.Protocols.Moq.Relay.Model;
using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Protocols.Moq.Relay.Routing;

namespace FastRelay.Protocols.Moq.Relay.Auth;

public enum RelayAction { Publish, Subscribe }

/// <summary>
/// Who may publish and subscribe where, from the AUTHORIZATION TOKEN parameters (draft-19 §"AUTHORIZATION TOKEN
/// Parameter") of each request. Rules are per namespace prefix; the longest prefix that has a rule governs a namespace,
/// and a namespace no rule covers is refused. A rule lists the accepted token values per action; "*" accepts anyone;
/// no list refuses everyone. Without rules (<see cref="Open"/>) everything is allowed, which the relay warns about at
/// start-up. Token values are compared in constant time; the token type is not interpreted (type 0, out of band).
/// </summary>
public sealed class RelayAuthPolicy
{
    public const string AnyoneToken = "*";

    private readonly NamespaceTrie<AuthRule> _rules = new();

    private RelayAuthPolicy(IReadOnlyList<AuthRule> rules)
    {
        Rules = rules;
        foreach (var rule in rules)
            _rules.Add(rule.Prefix, rule);
    }

    public IReadOnlyList<AuthRule> Rules { get; }

    /// <summary>No configuration: everyone may publish and subscribe everything.</summary>
    public static RelayAuthPolicy Open { get; } = new([]);

    public bool IsOpen => Rules.Count == 0;

    public static RelayAuthPolicy FromRules(IReadOnlyList<AuthRule> rules) => new(rules);

    /// <summary>One token for everything (--auth-token): the same value publishes and subscribes anywhere.</summary>
    public static RelayAuthPolicy SingleToken(string token) =>
        new([new AuthRule(MoqTrackNamespace.Empty, [token], [token])]);

    /// <summary>May a request with <paramref name="tokens"/> do <paramref name="action"/> on <paramref name="ns"/>?</summary>
    public bool IsAllowed(RelayAction action, MoqTrackNamespace ns, IReadOnlyList<AuthToken> tokens)
    {
        if (IsOpen) return true;
        var governing = _rules.FindAtOrAbove(ns);
        return governing.Count > 0 && governing[0].Accepts(action, tokens);
    }

    /// <summary>
    /// SUBSCRIBE_NAMESPACE: allowed when the rule governing the prefix allows it or any rule below the prefix does (the
    /// subscriber may discover those); each announced namespace is then checked with <see cref="IsAllowed"/>.
    /// </summary>
    public bool MayDiscover(MoqTrackNamespace prefix, IReadOnlyList<AuthToken> tokens)
    {
        if (IsAllowed(RelayAction.Subscribe, prefix, tokens)) return true;
        foreach (var (_, rule) in _rules.FindAtOrBelow(prefix))
            if (rule.Accepts(RelayAction.Subscribe, tokens))
                return true;
        return false;
    }
}

/// <summary>Accepted tokens for publishing and subscribing under one namespace prefix; null or empty: nobody.</summary>
public sealed record AuthRule(MoqTrackNamespace Prefix, IReadOnlyList<string>? PublishTokens, IReadOnlyList<string>? SubscribeTokens)
{
    private readonly byte[][] _publish = Encode(PublishTokens);
    private readonly byte[][] _subscribe = Encode(SubscribeTokens);

    public bool Accepts(RelayAction action, IReadOnlyList<AuthToken> tokens)
    {
        var accepted = action == RelayAction.Publish ? PublishTokens : SubscribeTokens;
        if (accepted is null || accepted.Count == 0) return false;
        if (accepted.Contains(RelayAuthPolicy.AnyoneToken)) return true;
        var values = action == RelayAction.Publish ? _publish : _subscribe;
        foreach (var token in tokens)
            foreach (var value in values)
                if (token.Value.Length == value.Length && CryptographicOperations.FixedTimeEquals(token.Value.Span, value))
                    return true;
        return false;
    }

    private static byte[][] Encode(IReadOnlyList<string>? tokens) =>
        tokens?.Where(t => t != RelayAuthPolicy.AnyoneToken).Select(t => System.Text.Encoding.UTF8.GetBytes(t)).ToArray() ?? [];
}
