namespace FastRelay.Protocols.Moq.Wire;

/// <summary>Alias Type of an AUTHORIZATION TOKEN (draft-19 §"AUTHORIZATION TOKEN Parameter").</summary>
public enum MoqAuthAliasType : ulong
{
    Delete = 0x0,
    Register = 0x1,
    UseAlias = 0x2,
    UseValue = 0x3,
}

/// <summary>
/// The Token structure: Alias Type, then an alias (DELETE, REGISTER, USE_ALIAS), a token type and value (REGISTER,
/// USE_VALUE). The value is the rest of the length-prefixed parameter or setup option.
/// </summary>
public sealed record MoqAuthToken(MoqAuthAliasType AliasType, ulong Alias, ulong TokenType, ReadOnlyMemory<byte> Value)
{
    public static MoqAuthToken UseValue(ulong tokenType, ReadOnlyMemory<byte> value) => new(MoqAuthAliasType.UseValue, 0, tokenType, value);
    public static MoqAuthToken Register(ulong alias, ulong tokenType, ReadOnlyMemory<byte> value) => new(MoqAuthAliasType.Register, alias, tokenType, value);
    public static MoqAuthToken UseAlias(ulong alias) => new(MoqAuthAliasType.UseAlias, alias, 0, default);
    public static MoqAuthToken Delete(ulong alias) => new(MoqAuthAliasType.Delete, alias, 0, default);

    public bool HasAlias => AliasType is not MoqAuthAliasType.UseValue;
    public bool HasValue => AliasType is MoqAuthAliasType.Register or MoqAuthAliasType.UseValue;

    /// <summary>Decodes a token from its exact bytes; a bad structure is KEY_VALUE_FORMATTING_ERROR.</summary>
    public static bool TryParse(ReadOnlyMemory<byte> bytes, out MoqAuthToken token, out MoqError error)
    {
        token = null!;
        var r = new MoqReader(bytes);
        if (!r.TryReadVarint(out ulong aliasType) || aliasType > 3) { error = MoqError.KeyValueFormat("bad token alias type"); return false; }
        var type = (MoqAuthAliasType)aliasType;
        ulong alias = 0, tokenType = 0;
        ReadOnlyMemory<byte> value = default;
        if (type != MoqAuthAliasType.UseValue && !r.TryReadVarint(out alias)) { error = MoqError.KeyValueFormat("truncated token alias"); return false; }
        if (type is MoqAuthAliasType.Register or MoqAuthAliasType.UseValue)
        {
            if (!r.TryReadVarint(out tokenType)) { error = MoqError.KeyValueFormat("truncated token type"); return false; }
            value = r.ReadToEnd().ToArray();
        }
        if (!r.IsEnd) { error = MoqError.KeyValueFormat("trailing bytes in token"); return false; }
        token = new MoqAuthToken(type, alias, tokenType, value);
        error = MoqError.None;
        return true;
    }

    public byte[] Encode()
    {
        var w = new MoqWriter(16 + Value.Length);
        w.WriteVarint((ulong)AliasType);
        if (HasAlias) w.WriteVarint(Alias);
        if (HasValue)
        {
            w.WriteVarint(TokenType);
            w.WriteBytes(Value.Span);
        }
        return w.ToArray();
    }

    public bool Equals(MoqAuthToken? other) =>
        other is not null && AliasType == other.AliasType && Alias == other.Alias && TokenType == other.TokenType && Value.Span.SequenceEqual(other.Value.Span);

    public override int GetHashCode() => HashCode.Combine(AliasType, Alias, TokenType, Value.Length);
}
