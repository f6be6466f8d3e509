using System.Text;

namespace FastRelay.Protocols.Moq.Wire;

/// <summary>Setup Option types (draft-19 §"Setup Options" registry); a namespace separate from Message Parameters.</summary>
public enum MoqSetupOptionType : ulong
{
    Path = 0x01,
    AuthorizationToken = 0x03,
    MaxAuthTokenCacheSize = 0x04,
    Authority = 0x05,
    MaxFilterRanges = 0x06,
    MoqtImplementation = 0x07,
    MaxRequestUpdates = 0x08,
}

/// <summary>
/// The typed Setup Options of a SETUP message. Unknown options are kept (and must be ignored, even repeated);
/// a known option other than AUTHORIZATION TOKEN appearing twice is PROTOCOL_VIOLATION.
/// </summary>
public sealed class MoqSetupOptions
{
    /// <summary>PATH (client, native QUIC only): path-abempty plus "?query".</summary>
    public string? Path { get; set; }
    /// <summary>AUTHORITY (client, native QUIC only).</summary>
    public string? Authority { get; set; }
    /// <summary>MOQT_IMPLEMENTATION: name and version of the sender.</summary>
    public string? Implementation { get; set; }
    /// <summary>MAX_AUTH_TOKEN_CACHE_SIZE in bytes; absent means 0 (no aliases).</summary>
    public ulong? MaxAuthTokenCacheSize { get; set; }
    /// <summary>MAX_FILTER_RANGES; absent means 0 (no range filters).</summary>
    public ulong? MaxFilterRanges { get; set; }
    /// <summary>MAX_REQUEST_UPDATES outstanding per request stream; absent or 0 means unlimited.</summary>
    public ulong? MaxRequestUpdates { get; set; }
    public List<MoqAuthToken> AuthorizationTokens { get; init; } = new();
    /// <summary>Options we do not know, as received (to be ignored, but visible to logs and extensions).</summary>
    public List<MoqKeyValuePair> Unknown { get; init; } = new();

    public static bool TryParse(List<MoqKeyValuePair> pairs, out MoqSetupOptions options, out MoqError error)
    {
        options = new MoqSetupOptions();
        var seen = new HashSet<ulong>();
        foreach (var pair in pairs)
        {
            var type = (MoqSetupOptionType)pair.Type;
            bool known = Enum.IsDefined(type);
            if (!known) { options.Unknown.Add(pair); continue; }
            if (type != MoqSetupOptionType.AuthorizationToken && !seen.Add(pair.Type)) { error = MoqError.Protocol("duplicate setup option"); return false; }
            switch (type)
            {
                case MoqSetupOptionType.Path: options.Path = Utf8(pair); break;
                case MoqSetupOptionType.Authority: options.Authority = Utf8(pair); break;
                case MoqSetupOptionType.MoqtImplementation: options.Implementation = Utf8(pair); break;
                case MoqSetupOptionType.MaxAuthTokenCacheSize: options.MaxAuthTokenCacheSize = pair.IntValue; break;
                case MoqSetupOptionType.MaxFilterRanges: options.MaxFilterRanges = pair.IntValue; break;
                case MoqSetupOptionType.MaxRequestUpdates: options.MaxRequestUpdates = pair.IntValue; break;
                case MoqSetupOptionType.AuthorizationToken:
                    if (!MoqAuthToken.TryParse(pair.BytesValue.ToArray(), out var token, out error)) return false;
                    options.AuthorizationTokens.Add(token);
                    break;
            }
        }
        error = MoqError.None;
        return true;
    }

    private static string Utf8(MoqKeyValuePair pair) => Encoding.UTF8.GetString(pair.BytesValue.Span);

    public List<MoqKeyValuePair> ToPairs()
    {
        var pairs = new List<MoqKeyValuePair>();
        void Text(MoqSetupOptionType t, string? v) { if (v is not null) pairs.Add(MoqKeyValuePair.FromBytes((ulong)t, Encoding.UTF8.GetBytes(v))); }
        void Int(MoqSetupOptionType t, ulong? v) { if (v.HasValue) pairs.Add(MoqKeyValuePair.FromInt((ulong)t, v.Value)); }
        Text(MoqSetupOptionType.Path, Path);
        foreach (var token in AuthorizationTokens) pairs.Add(MoqKeyValuePair.FromBytes((ulong)MoqSetupOptionType.AuthorizationToken, token.Encode()));
        Int(MoqSetupOptionType.MaxAuthTokenCacheSize, MaxAuthTokenCacheSize);
        Text(MoqSetupOptionType.Authority, Authority);
        Int(MoqSetupOptionType.MaxFilterRanges, MaxFilterRanges);
        Text(MoqSetupOptionType.MoqtImplementation, Implementation);
        Int(MoqSetupOptionType.MaxRequestUpdates, MaxRequestUpdates);
        pairs.AddRange(Unknown);
        return pairs.OrderBy(p => p.Type).ToList();
    }
}
