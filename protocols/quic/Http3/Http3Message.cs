using System.Globalization;
using FastRelay.Protocols.Quic.Http3.Qpack;

namespace FastRelay.Protocols.Quic.Http3;

/// <summary>A validated request head (RFC 9114 §4.3.1).</summary>
public sealed record Http3Request(string Method, string Scheme, string Authority, string Path, IReadOnlyList<HttpField> Headers)
{
    /// <summary>The :protocol of an extended CONNECT (RFC 9220), e.g. <c>webtransport</c>; null otherwise.</summary>
    public string? Protocol { get; init; }

    /// <summary>The first header field of that (lower-case) name, or null.</summary>
    public string? Header(string name)
    {
        foreach (var field in Headers)
            if (field.Name == name)
                return field.Value;
        return null;
    }
}

/// <summary>A validated response head (RFC 9114 §4.3.2).</summary>
public sealed record Http3ResponseHead(int Status, long? ContentLength, IReadOnlyList<HttpField> Headers);

/// <summary>
/// Well-formedness rules for messages (RFC 9114 §4.1.2, §4.2, §4.3): lower-case names, pseudo-header fields first,
/// only the defined ones, each once, the mandatory ones present, no connection-specific fields, a single numeric
/// content-length. A violation makes the message malformed: H3_MESSAGE_ERROR on that stream.
/// </summary>
public static class Http3Message
{
    private static readonly HashSet<string> ConnectionSpecific = new(StringComparer.Ordinal)
    {
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
    };

    /// <param name="allowExtendedConnect">Only an endpoint that advertised SETTINGS_ENABLE_CONNECT_PROTOCOL accepts
    /// :protocol (RFC 9220 §3); elsewhere it is an unknown pseudo-header, so the request is malformed.</param>
    public static bool TryValidateRequest(IReadOnlyList<HttpField> fields, out Http3Request request, out Http3Error error, bool allowExtendedConnect = false)
    {
        request = null!;
        string? method = null, scheme = null, authority = null, path = null, protocol = null;
        var headers = new List<HttpField>();
        if (!TrySplit(fields, headers, (name, value) =>
            {
                switch (name)
                {
                    case ":method" when method is null: method = value; return true;
                    case ":scheme" when scheme is null: scheme = value; return true;
                    case ":authority" when authority is null: authority = value; return true;
                    case ":path" when path is null: path = value; return true;
                    case ":protocol" when protocol is null && allowExtendedConnect: protocol = value; return true;
                    default: return false; // unknown or repeated pseudo-header
                }
            }, out error))
            return false;
        if (method is null || method.Length == 0)
            return Malformed(out error, "request without :method");
        if (protocol is not null)
        {
            // Extended CONNECT (RFC 8441 §4 as applied by RFC 9220): all four of :scheme, :path, :authority present.
            if (method != "CONNECT" || protocol.Length == 0 || string.IsNullOrEmpty(scheme) || string.IsNullOrEmpty(path) || string.IsNullOrEmpty(authority))
                return Malformed(out error, ":protocol needs CONNECT with :scheme, :path and :authority");
        }
        else if (method == "CONNECT")
        {
            if (scheme is not null || path is not null || string.IsNullOrEmpty(authority))
                return Malformed(out error, "CONNECT needs :authority and no :scheme/:path");
        }
        else if (string.IsNullOrEmpty(scheme) || string.IsNullOrEmpty(path))
            return Malformed(out error, "request without :scheme or :path");
        if (!TryContentLength(headers, out _, out error))
            return false;
        request = new Http3Request(method, scheme ?? "", authority ?? "", path ?? "", headers) { Protocol = protocol };
        return true;
    }

    public static bool TryValidateResponse(IReadOnlyList<HttpField> fields, out Http3ResponseHead response, out Http3Error error)
    {
        response = null!;
        string? status = null;
        var headers = new List<HttpField>();
        if (!TrySplit(fields, headers, (name, value) =>
            {
                if (name != ":status" || status is not null)
                    return false;
                status = value;
                return true;
            }, out error))
            return false;
        if (status is null || status.Length != 3 || !int.TryParse(status, NumberStyles.None, CultureInfo.InvariantCulture, out int code) || code < 100)
            return Malformed(out error, "missing or invalid :status");
        if (!TryContentLength(headers, out long? contentLength, out error))
            return false;
        response = new Http3ResponseHead(code, contentLength, headers);
        return true;
    }

    /// <summary>Trailers carry no pseudo-header fields (§4.3).</summary>
    public static bool TryValidateTrailers(IReadOnlyList<HttpField> fields, out Http3Error error) =>
        TrySplit(fields, new List<HttpField>(), (_, _) => false, out error);

    private static bool TrySplit(IReadOnlyList<HttpField> fields, List<HttpField> headers, Func<string, string, bool> pseudo, out Http3Error error)
    {
        bool regularSeen = false;
        foreach (var field in fields)
        {
            if (field.Name.Length == 0)
                return Malformed(out error, "empty field name");
            foreach (char c in field.Name)
            {
                if (c is >= 'A' and <= 'Z')
                    return Malformed(out error, "upper-case field name");
                if (c <= ' ' || c >= 0x7f)
                    return Malformed(out error, "invalid character in field name");
            }
            foreach (char c in field.Value)
                if (c is '\0' or '\r' or '\n')
                    return Malformed(out error, "invalid character in field value");
            if (field.Name[0] == ':')
            {
                if (regularSeen)
                    return Malformed(out error, "pseudo-header field after a regular field");
                if (!pseudo(field.Name, field.Value))
                    return Malformed(out error, "unknown, repeated or misplaced pseudo-header field");
                continue;
            }
            regularSeen = true;
            if (ConnectionSpecific.Contains(field.Name) || (field.Name == "te" && field.Value != "trailers"))
                return Malformed(out error, "connection-specific header field");
            headers.Add(field);
        }
        error = Http3Error.None;
        return true;
    }

    private static bool TryContentLength(List<HttpField> headers, out long? contentLength, out Http3Error error)
    {
        contentLength = null;
        foreach (var field in headers)
        {
            if (field.Name != "content-length")
                continue;
            if (!long.TryParse(field.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long value) || (contentLength is { } prior && prior != value))
                return Malformed(out error, "invalid content-length");
            contentLength = value;
        }
        error = Http3Error.None;
        return true;
    }

    private static bool Malformed(out Http3Error error, string reason)
    {
        error = new Http3Error(Http3ErrorCode.MessageError, reason);
        return false;
    }
}
