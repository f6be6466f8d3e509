using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Tls;

/// <summary>The message an extension block belongs to; decides which extensions are allowed (RFC 8446 §4.2 table).</summary>
public enum TlsExtensionContext : byte
{
    ClientHello,
    ServerHello,
    HelloRetryRequest,
    EncryptedExtensions,
    NewSessionTicket,
}

/// <summary>
/// One extension block (RFC 8446 §4.2) with the extensions this stack understands decoded into typed values; byte
/// strings are slices of the received message. Lists are arrays (one handshake per connection, not per packet).
/// Decoding rules:
/// <list type="bullet">
/// <item>duplicate type → illegal_parameter (§4.2: "MUST NOT be more than one extension of the same type");</item>
/// <item>a recognized extension in a message it is not specified for → illegal_parameter (§4.2);</item>
/// <item>an unknown extension in ServerHello/HelloRetryRequest/EncryptedExtensions → unsupported_extension (this client
///   never offers unknown extensions, §4.2); in ClientHello and NewSessionTicket it is ignored;</item>
/// <item>pre_shared_key not last in ClientHello → illegal_parameter (§4.2.11);</item>
/// <item>bad inner lengths/vectors → decode_error; key_share values of the wrong size for a known group → illegal_parameter.</item>
/// </list>
/// pre_shared_key and psk_key_exchange_modes are kept as raw bodies (PSK handling comes with resumption).
/// </summary>
public sealed class TlsExtensions
{
    public const ushort Tls13 = 0x0304;

    /// <summary>server_name host_name (ClientHello). In EncryptedExtensions see <see cref="ServerNameAcknowledged"/>.</summary>
    public ReadOnlyMemory<byte>? ServerName { get; set; }
    /// <summary>Empty server_name in EncryptedExtensions (RFC 6066 §3: the server used the name).</summary>
    public bool ServerNameAcknowledged { get; set; }
    public NamedGroup[]? SupportedGroups { get; set; }
    public SignatureScheme[]? SignatureAlgorithms { get; set; }
    /// <summary>ALPN protocol names; a server response must carry exactly one (RFC 7301 §3.1).</summary>
    public ReadOnlyMemory<byte>[]? Alpn { get; set; }
    /// <summary>supported_versions in ClientHello.</summary>
    public ushort[]? SupportedVersions { get; set; }
    /// <summary>supported_versions in ServerHello/HelloRetryRequest.</summary>
    public ushort? SelectedVersion { get; set; }
    /// <summary>key_share client_shares (ClientHello).</summary>
    public KeyShareEntry[]? KeyShares { get; set; }
    /// <summary>key_share server_share (ServerHello).</summary>
    public KeyShareEntry? ServerShare { get; set; }
    /// <summary>key_share selected_group (HelloRetryRequest).</summary>
    public NamedGroup? SelectedGroup { get; set; }
    public ReadOnlyMemory<byte>? Cookie { get; set; }
    /// <summary>early_data: presence in ClientHello/EncryptedExtensions.</summary>
    public bool EarlyData { get; set; }
    /// <summary>early_data max_early_data_size in NewSessionTicket (QUIC requires 0xffffffff, RFC 9001 §4.6.1).</summary>
    public uint? MaxEarlyDataSize { get; set; }
    public ReadOnlyMemory<byte>? PskKeyExchangeModes { get; set; }
    /// <summary>pre_shared_key body, raw (OfferedPsks in ClientHello, selected_identity in ServerHello).</summary>
    public ReadOnlyMemory<byte>? PreSharedKey { get; set; }
    /// <summary>quic_transport_parameters (0x39, RFC 9001 §8.2): the encoded <see cref="TransportParameters"/>.</summary>
    public ReadOnlyMemory<byte>? QuicTransportParameters { get; set; }

    /// <summary>Decodes <see cref="QuicTransportParameters"/>; missing → missing_extension (RFC 9001 §8.2), invalid → the QUIC error.</summary>
    public bool TryGetTransportParameters(QuicPerspective sender, out TransportParameters? parameters, out TlsAlert alert, out QuicError error)
    {
        parameters = null;
        error = default;
        alert = TlsAlert.None;
        if (QuicTransportParameters is not { } raw) { alert = TlsAlert.MissingExtension; return false; }
        if (!TransportParameters.TryDecode(raw.Span, sender, out var p, out error)) return false;
        parameters = p;
        return true;
    }

    private static bool IsAllowed(TlsExtensionType type, TlsExtensionContext context) => type switch
    {
        TlsExtensionType.ServerName or TlsExtensionType.SupportedGroups or TlsExtensionType.ApplicationLayerProtocolNegotiation
            or TlsExtensionType.QuicTransportParameters =>
            context is TlsExtensionContext.ClientHello or TlsExtensionContext.EncryptedExtensions,
        TlsExtensionType.SignatureAlgorithms or TlsExtensionType.PskKeyExchangeModes => context == TlsExtensionContext.ClientHello,
        TlsExtensionType.KeyShare or TlsExtensionType.SupportedVersions =>
            context is TlsExtensionContext.ClientHello or TlsExtensionContext.ServerHello or TlsExtensionContext.HelloRetryRequest,
        TlsExtensionType.PreSharedKey => context is TlsExtensionContext.ClientHello or TlsExtensionContext.ServerHello,
        TlsExtensionType.EarlyData => context is TlsExtensionContext.ClientHello or TlsExtensionContext.EncryptedExtensions
            or TlsExtensionContext.NewSessionTicket,
        TlsExtensionType.Cookie => context is TlsExtensionContext.ClientHello or TlsExtensionContext.HelloRetryRequest,
        _ => false,
    };

    private static int Bit(TlsExtensionType type) => type switch
    {
        TlsExtensionType.ServerName => 0,
        TlsExtensionType.SupportedGroups => 1,
        TlsExtensionType.SignatureAlgorithms => 2,
        TlsExtensionType.ApplicationLayerProtocolNegotiation => 3,
        TlsExtensionType.PreSharedKey => 4,
        TlsExtensionType.EarlyData => 5,
        TlsExtensionType.SupportedVersions => 6,
        TlsExtensionType.Cookie => 7,
        TlsExtensionType.PskKeyExchangeModes => 8,
        TlsExtensionType.KeyShare => 9,
        TlsExtensionType.QuicTransportParameters => 10,
        _ => -1,
    };

    /// <summary>Reads the <c>Extension extensions&lt;0..2^16-1&gt;</c> vector (the caller checks it ends the message).</summary>
    public static bool TryRead(ref TlsReader reader, TlsExtensionContext context, out TlsExtensions extensions, out TlsAlert alert)
    {
        extensions = new TlsExtensions();
        alert = TlsAlert.DecodeError;
        if (!reader.TryReadVector(2, 0, 0xFFFF, out var block)) return false;
        var r = new TlsReader(block);
        int seen = 0;
        var unknownSeen = new HashSet<ushort>();
        while (!r.IsEnd)
        {
            if (!r.TryReadUInt16(out ushort rawType) || !r.TryReadVector(2, 0, 0xFFFF, out var body)) { alert = TlsAlert.DecodeError; return false; }
            var type = (TlsExtensionType)rawType;
            int bit = Bit(type);
            if (bit < 0)
            {
                if (!unknownSeen.Add(rawType)) { alert = TlsAlert.IllegalParameter; return false; }
                if (context is TlsExtensionContext.ClientHello or TlsExtensionContext.NewSessionTicket) continue;
                alert = TlsAlert.UnsupportedExtension;
                return false;
            }
            if ((seen & (1 << bit)) != 0) { alert = TlsAlert.IllegalParameter; return false; }
            seen |= 1 << bit;
            if (!IsAllowed(type, context)) { alert = TlsAlert.IllegalParameter; return false; }
            if (context == TlsExtensionContext.ClientHello && type == TlsExtensionType.PreSharedKey && !r.IsEnd)
            {
                alert = TlsAlert.IllegalParameter;
                return false;
            }
            alert = extensions.ReadOne(type, body, context);
            if (alert != TlsAlert.None) return false;
        }
        alert = TlsAlert.None;
        return true;
    }

    private TlsAlert ReadOne(TlsExtensionType type, ReadOnlyMemory<byte> body, TlsExtensionContext context)
    {
        var r = new TlsReader(body);
        const TlsAlert Decode = TlsAlert.DecodeError;
        switch (type)
        {
            case TlsExtensionType.ServerName:
                if (context == TlsExtensionContext.EncryptedExtensions)
                {
                    if (!r.IsEnd) return Decode;
                    ServerNameAcknowledged = true;
                    return TlsAlert.None;
                }
                if (!r.TryReadVector(2, 1, 0xFFFF, out var list)) return Decode;
                var lr = new TlsReader(list);
                while (!lr.IsEnd)
                {
                    if (!lr.TryReadUInt8(out byte nameType) || !lr.TryReadVector(2, 1, 0xFFFF, out var name)) return Decode;
                    if (nameType != 0) continue; // only host_name is defined
                    if (ServerName is not null) return TlsAlert.IllegalParameter; // RFC 6066 §3: one name per type
                    ServerName = name;
                }
                break;
            case TlsExtensionType.SupportedGroups:
                if (!TryReadUInt16List(ref r, out var groups)) return Decode;
                SupportedGroups = Array.ConvertAll(groups, g => (NamedGroup)g);
                break;
            case TlsExtensionType.SignatureAlgorithms:
                if (!TryReadUInt16List(ref r, out var schemes)) return Decode;
                SignatureAlgorithms = Array.ConvertAll(schemes, s => (SignatureScheme)s);
                break;
            case TlsExtensionType.ApplicationLayerProtocolNegotiation:
            {
                if (!r.TryReadVector(2, 2, 0xFFFF, out var names)) return Decode;
                var nr = new TlsReader(names);
                var result = new List<ReadOnlyMemory<byte>>();
                while (!nr.IsEnd)
                {
                    if (!nr.TryReadVector(1, 1, 255, out var name)) return Decode;
                    result.Add(name);
                }
                if (context == TlsExtensionContext.EncryptedExtensions && result.Count != 1) return TlsAlert.IllegalParameter;
                Alpn = result.ToArray();
                break;
            }
            case TlsExtensionType.SupportedVersions:
                if (context == TlsExtensionContext.ClientHello)
                {
                    if (!r.TryReadVector(1, 2, 254, out var versions) || (versions.Length & 1) != 0) return Decode;
                    var vs = new ushort[versions.Length / 2];
                    var vr = new TlsReader(versions);
                    for (int i = 0; i < vs.Length; i++) vr.TryReadUInt16(out vs[i]);
                    SupportedVersions = vs;
                }
                else
                {
                    if (!r.TryReadUInt16(out ushort selected)) return Decode;
                    SelectedVersion = selected;
                }
                break;
            case TlsExtensionType.KeyShare:
                if (context == TlsExtensionContext.HelloRetryRequest)
                {
                    if (!r.TryReadUInt16(out ushort group)) return Decode;
                    SelectedGroup = (NamedGroup)group;
                }
                else if (context == TlsExtensionContext.ServerHello)
                {
                    var alert = TryReadKeyShare(ref r, out var entry);
                    if (alert != TlsAlert.None) return alert;
                    ServerShare = entry;
                }
                else
                {
                    if (!r.TryReadVector(2, 0, 0xFFFF, out var shares)) return Decode;
                    var sr = new TlsReader(shares);
                    var result = new List<KeyShareEntry>();
                    while (!sr.IsEnd)
                    {
                        var alert = TryReadKeyShare(ref sr, out var entry);
                        if (alert != TlsAlert.None) return alert;
                        // §4.2.8: clients MUST NOT offer multiple KeyShareEntry values for the same group.
                        foreach (var e in result) if (e.Group == entry.Group) return TlsAlert.IllegalParameter;
                        result.Add(entry);
                    }
                    KeyShares = result.ToArray();
                }
                break;
            case TlsExtensionType.Cookie:
                if (!r.TryReadVector(2, 1, 0xFFFF, out var cookie)) return Decode;
                Cookie = cookie;
                break;
            case TlsExtensionType.EarlyData:
                if (context == TlsExtensionContext.NewSessionTicket)
                {
                    if (!r.TryReadUInt32(out uint max)) return Decode;
                    MaxEarlyDataSize = max;
                }
                else EarlyData = true;
                break;
            case TlsExtensionType.PskKeyExchangeModes:
                if (!r.TryReadVector(1, 1, 255, out var modes)) return Decode;
                PskKeyExchangeModes = modes;
                break;
            case TlsExtensionType.PreSharedKey:
                if (body.Length == 0) return Decode;
                PreSharedKey = body;
                return TlsAlert.None;
            case TlsExtensionType.QuicTransportParameters:
                QuicTransportParameters = body;
                return TlsAlert.None;
        }
        return r.IsEnd ? TlsAlert.None : Decode;
    }

    private static TlsAlert TryReadKeyShare(ref TlsReader r, out KeyShareEntry entry)
    {
        entry = default;
        if (!r.TryReadUInt16(out ushort group) || !r.TryReadVector(2, 1, 0xFFFF, out var key)) return TlsAlert.DecodeError;
        var g = (NamedGroup)group;
        int expected = g.KeyExchangeLength();
        if (expected != 0 && key.Length != expected) return TlsAlert.IllegalParameter;
        // NIST curves: uncompressed point form only (RFC 8446 §4.2.8.2).
        if (g is NamedGroup.Secp256r1 or NamedGroup.Secp384r1 && key.Span[0] != 4) return TlsAlert.IllegalParameter;
        entry = new KeyShareEntry(g, key);
        return TlsAlert.None;
    }

    private static bool TryReadUInt16List(ref TlsReader r, out ushort[] values)
    {
        values = [];
        if (!r.TryReadVector(2, 2, 0xFFFE, out var list) || (list.Length & 1) != 0) return false;
        values = new ushort[list.Length / 2];
        var lr = new TlsReader(list);
        for (int i = 0; i < values.Length; i++) lr.TryReadUInt16(out values[i]);
        return true;
    }

    /// <summary>Writes the extensions vector for <paramref name="context"/> (only the fields that apply to it; pre_shared_key last).</summary>
    public void Write(ref TlsWriter w, TlsExtensionContext context)
    {
        int block = w.BeginVector(2);
        bool ch = context == TlsExtensionContext.ClientHello;
        bool ee = context == TlsExtensionContext.EncryptedExtensions;
        if (ch && ServerName is { } host)
        {
            int e = Begin(ref w, TlsExtensionType.ServerName);
            int list = w.BeginVector(2);
            w.WriteUInt8(0);
            w.WriteVector(2, host.Span);
            w.EndVector(list, 2);
            w.EndVector(e, 2);
        }
        if (ee && ServerNameAcknowledged) w.EndVector(Begin(ref w, TlsExtensionType.ServerName), 2);
        if ((ch || context is TlsExtensionContext.ServerHello or TlsExtensionContext.HelloRetryRequest))
        {
            if (ch && SupportedVersions is { } versions)
            {
                int e = Begin(ref w, TlsExtensionType.SupportedVersions);
                int v = w.BeginVector(1);
                foreach (var version in versions) w.WriteUInt16(version);
                w.EndVector(v, 1);
                w.EndVector(e, 2);
            }
            else if (!ch && SelectedVersion is { } selected)
            {
                int e = Begin(ref w, TlsExtensionType.SupportedVersions);
                w.WriteUInt16(selected);
                w.EndVector(e, 2);
            }
        }
        if ((ch || ee) && SupportedGroups is { } groups)
        {
            int e = Begin(ref w, TlsExtensionType.SupportedGroups);
            int v = w.BeginVector(2);
            foreach (var g in groups) w.WriteUInt16((ushort)g);
            w.EndVector(v, 2);
            w.EndVector(e, 2);
        }
        if (ch && SignatureAlgorithms is { } schemes)
        {
            int e = Begin(ref w, TlsExtensionType.SignatureAlgorithms);
            int v = w.BeginVector(2);
            foreach (var s in schemes) w.WriteUInt16((ushort)s);
            w.EndVector(v, 2);
            w.EndVector(e, 2);
        }
        if (ch && KeyShares is { } shares)
        {
            int e = Begin(ref w, TlsExtensionType.KeyShare);
            int v = w.BeginVector(2);
            foreach (var s in shares) { w.WriteUInt16((ushort)s.Group); w.WriteVector(2, s.KeyExchange.Span); }
            w.EndVector(v, 2);
            w.EndVector(e, 2);
        }
        if (context == TlsExtensionContext.ServerHello && ServerShare is { } share)
        {
            int e = Begin(ref w, TlsExtensionType.KeyShare);
            w.WriteUInt16((ushort)share.Group);
            w.WriteVector(2, share.KeyExchange.Span);
            w.EndVector(e, 2);
        }
        if (context == TlsExtensionContext.HelloRetryRequest && SelectedGroup is { } sg)
        {
            int e = Begin(ref w, TlsExtensionType.KeyShare);
            w.WriteUInt16((ushort)sg);
            w.EndVector(e, 2);
        }
        if ((ch || context == TlsExtensionContext.HelloRetryRequest) && Cookie is { } cookie)
        {
            int e = Begin(ref w, TlsExtensionType.Cookie);
            w.WriteVector(2, cookie.Span);
            w.EndVector(e, 2);
        }
        if ((ch || ee) && Alpn is { } alpn)
        {
            int e = Begin(ref w, TlsExtensionType.ApplicationLayerProtocolNegotiation);
            int v = w.BeginVector(2);
            foreach (var name in alpn) w.WriteVector(1, name.Span);
            w.EndVector(v, 2);
            w.EndVector(e, 2);
        }
        if ((ch || ee) && EarlyData) w.EndVector(Begin(ref w, TlsExtensionType.EarlyData), 2);
        if (context == TlsExtensionContext.NewSessionTicket && MaxEarlyDataSize is { } max)
        {
            int e = Begin(ref w, TlsExtensionType.EarlyData);
            w.WriteUInt32(max);
            w.EndVector(e, 2);
        }
        if ((ch || ee) && QuicTransportParameters is { } tp)
        {
            int e = Begin(ref w, TlsExtensionType.QuicTransportParameters);
            w.WriteBytes(tp.Span);
            w.EndVector(e, 2);
        }
        if (ch && PskKeyExchangeModes is { } modes)
        {
            int e = Begin(ref w, TlsExtensionType.PskKeyExchangeModes);
            w.WriteVector(1, modes.Span);
            w.EndVector(e, 2);
        }
        if ((ch || context == TlsExtensionContext.ServerHello) && PreSharedKey is { } psk)
        {
            int e = Begin(ref w, TlsExtensionType.PreSharedKey);
            w.WriteBytes(psk.Span);
            w.EndVector(e, 2);
        }
        w.EndVector(block, 2);
    }

    private static int Begin(ref TlsWriter w, TlsExtensionType type)
    {
        w.WriteUInt16((ushort)type);
        return w.BeginVector(2);
    }
}
