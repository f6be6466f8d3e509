using System.Net;
using System.Net.Sockets;

namespace FastRelay.Protocols.Moq.Clients;

/// <summary>
/// Where a MoQ client connects. <c>moqt://HOST[:PORT][/PATH]</c> is a raw QUIC connection with ALPN <c>moqt-19</c>
/// (draft-19 §"Native QUIC"): authority and path travel in the SETUP options. <c>https://HOST[:PORT]/PATH</c> is a
/// WebTransport session (extended CONNECT, WT-Protocol <c>moqt-19</c>), which the command line does not speak yet.
/// The port defaults to 443, as the draft says.
/// </summary>
public sealed record MoqUrl(Uri Uri, MoqUrlTransport Transport)
{
    public const int DefaultPort = 443;

    public string Host => Uri.IdnHost;
    public int Port => Uri.IsDefaultPort || Uri.Port < 0 ? DefaultPort : Uri.Port;
    /// <summary>The authority as sent in SETUP's AUTHORITY option (host[:port] as written).</summary>
    public string Authority => Uri.Authority;
    /// <summary>Path and query as sent in SETUP's PATH option ("/" when empty).</summary>
    public string PathAndQuery => string.IsNullOrEmpty(Uri.PathAndQuery) ? "/" : Uri.PathAndQuery;

    /// <exception cref="FormatException">Not an absolute moqt:// or https:// URL with a host.</exception>
    public static MoqUrl Parse(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            throw new FormatException($"'{text}' is not a URL: expected moqt://HOST:PORT/PATH");
        var transport = uri.Scheme switch
        {
            "moqt" => MoqUrlTransport.Quic,
            "https" => MoqUrlTransport.WebTransport,
            _ => throw new FormatException($"'{text}': the scheme must be moqt:// (raw QUIC, ALPN moqt-19) or https:// (WebTransport)"),
        };
        if (!string.IsNullOrEmpty(uri.Fragment))
            throw new FormatException($"'{text}': URL fragments are not supported");
        return new MoqUrl(uri, transport);
    }

    /// <summary>The address to send to: the literal address, or the host name's first IPv4 address (else its first).</summary>
    /// <exception cref="SocketException">The name does not resolve.</exception>
    public async Task<IPEndPoint> ResolveAsync(CancellationToken cancellationToken = default)
    {
        if (IPAddress.TryParse(Host, out var literal)) return new IPEndPoint(literal, Port);
        var addresses = await Dns.GetHostAddressesAsync(Host, cancellationToken);
        var address = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
            ?? throw new SocketException((int)SocketError.HostNotFound);
        return new IPEndPoint(address, Port);
    }

    public override string ToString() => Uri.ToString();
}

public enum MoqUrlTransport { Quic, WebTransport }
