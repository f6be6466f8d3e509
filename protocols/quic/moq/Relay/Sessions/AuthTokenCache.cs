using FastRelay.Protocols.Moq.Relay.Ports;
using FastRelay.Protocols.Moq.Wire;

namespace FastRelay.Protocols.Moq.Relay.Sessions;

/// <summary>
/// One session's registered token aliases (draft-19 §"AUTHORIZATION TOKEN Parameter": REGISTER, USE_ALIAS, DELETE), and
/// the tokens of its SETUP, which count for every request of the session. Bounded: registrations past
/// <see cref="MaxBytes"/> are not kept (a request using them then carries no token and is refused if one is needed).
/// </summary>
internal sealed class AuthTokenCache
{
    public const int MaxBytes = 16 * 1024;
    public const int MaxAliases = 64;

    private readonly object _lock = new();
    private readonly Dictionary<ulong, AuthToken> _aliases = new();
    private readonly List<AuthToken> _setupTokens = [];
    private int _bytes;

    public void AddSetupTokens(IEnumerable<MoqAuthToken> tokens)
    {
        lock (_lock)
            foreach (var token in tokens)
                if (Resolve(token) is { } value && _setupTokens.Count < MaxAliases)
                    _setupTokens.Add(value);
    }

    /// <summary>The request's tokens with aliases resolved (registrations applied), plus the SETUP tokens.</summary>
    public IReadOnlyList<AuthToken> Resolve(IReadOnlyList<MoqAuthToken> tokens)
    {
        lock (_lock)
        {
            if (tokens.Count == 0 && _setupTokens.Count == 0) return [];
            var resolved = new List<AuthToken>(_setupTokens);
            foreach (var token in tokens)
                if (Resolve(token) is { } value)
                    resolved.Add(value);
            return resolved;
        }
    }

    private AuthToken? Resolve(MoqAuthToken token)
    {
        switch (token.AliasType)
        {
            case MoqAuthAliasType.UseValue:
                return new AuthToken(token.TokenType, token.Value);
            case MoqAuthAliasType.Register:
                var value = new AuthToken(token.TokenType, token.Value.ToArray());
                if (!_aliases.ContainsKey(token.Alias) && _aliases.Count < MaxAliases && _bytes + token.Value.Length <= MaxBytes)
                {
                    _aliases.Add(token.Alias, value);
                    _bytes += token.Value.Length;
                }
                return value;
            case MoqAuthAliasType.UseAlias:
                return _aliases.TryGetValue(token.Alias, out var known) ? known : null;
            case MoqAuthAliasType.Delete:
                if (_aliases.Remove(token.Alias, out var removed))
                    _bytes -= removed.Value.Length;
                return null;
            default:
                return null;
        }
    }
}
