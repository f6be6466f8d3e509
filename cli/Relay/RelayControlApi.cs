using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using FastRelay.Cli.Http;
using FastRelay.Relay;
using Microsoft.Extensions.Logging;

namespace FastRelay.Cli.Relay;

/// <summary>
/// `fastrelay relay --control ADDRESS`: the generic relay's local control API, HTTP/JSON under <c>/v1</c> with a bearer
/// token (docs/relay-host.md lists the endpoints). Subscribers added here live beside the configuration file's under the
/// rule of <see cref="RelayPlanSources"/> (one owner per subscriber).
/// Hostile input: the token is checked first, in constant time, from the Authorization header alone (nothing is read or
/// parsed before, and a header longer than any token is refused unread); a body is read only after that, up to
/// <see cref="MaxBodyBytes"/>; JSON is parsed with a small depth limit; every refusal is a 4xx JSON object
/// <c>{"error": "...", "field": "..."}</c> that names the field at fault.
/// </summary>
public sealed class RelayControlApi : IAsyncDisposable
{
    /// <summary>The largest request body read: a subscriber with every option is about 300 bytes.</summary>
    public const int MaxBodyBytes = 4096;

    /// <summary>How long the API waits for a request's whole body before it answers 408 and serves the next one.</summary>
    public static readonly TimeSpan BodyReadTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Tokens are at most this long (a generated one is 64 hex digits).</summary>
    public const int MaxTokenLength = 256;

    public const string PathPrefix = "/v1";

    private static readonly JsonDocumentOptions BodyOptions = new() { MaxDepth = 8 };

    private readonly byte[] _tokenHash;
    private readonly RelayPlanSources _sources;
    private readonly Func<GenericRelayStatus> _snapshot;
    private readonly ILogger _log;
    private LocalHttpHost? _http;

    private RelayControlApi(string token, RelayPlanSources sources, Func<GenericRelayStatus> snapshot, ILogger log)
    {
        _tokenHash = SHA256.HashData(Encoding.UTF8.GetBytes(token));
        _sources = sources;
        _snapshot = snapshot;
        _log = log;
    }

    /// <summary>The API's base URL (http://127.0.0.1:PORT/v1).</summary>
    public string Url => _http!.Url;

    public static RelayControlApi Start(string address, string token, RelayPlanSources sources, Func<GenericRelayStatus> snapshot, ILogger log)
    {
        CheckToken(token, "the control token");
        var api = new RelayControlApi(token, sources, snapshot, log);
        api._http = LocalHttpHost.Start("--control", address, PathPrefix, api.HandleAsync, log);
        var (host, _) = LocalHttpHost.ParseAddress("--control", address);
        if (!IPAddress.TryParse(host.Trim('[', ']'), out var ip) || !IPAddress.IsLoopback(ip))
            log.LogWarning("the control API listens on {Host}, not a loopback address: anyone who can reach it and has the token controls the relay", host);
        log.LogInformation("control API on {Url}", api.Url);
        return api;
    }

    /// <summary>A usable token: 16..<see cref="MaxTokenLength"/> visible ASCII characters (it travels in a header).</summary>
    public static void CheckToken(string token, string what)
    {
        if (token.Length is < 16 or > MaxTokenLength || token.Any(c => c is <= ' ' or > '~'))
            throw new UserFacingException($"{what}: expected 16 to {MaxTokenLength} visible ASCII characters (no spaces), found {token.Length} characters");
    }

    /// <summary>A new random token: 32 bytes as 64 hex digits.</summary>
    public static string NewToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    /// <summary>Writes <paramref name="token"/> to a new file only its owner can read (0600), replacing an old one.</summary>
    public static void WriteTokenFile(string path, string token)
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("the relays run on Linux");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.Delete(path); // a new file gets the mode below; an existing one would keep its own
        using var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        file.Write(Encoding.ASCII.GetBytes(token + "\n"));
    }

    /// <summary>The token in a file, without surrounding white space.</summary>
    public static string ReadTokenFile(string path, string option)
    {
        string text;
        try
        {
            var info = new FileInfo(path);
            if (info.Exists && info.Length > MaxTokenLength + 2)
                throw new UserFacingException($"{option} {path}: {info.Length} bytes, longer than any token ({MaxTokenLength})");
            text = File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"{option} {path}: {e.Message}", e);
        }
        CheckToken(text, $"{option} {path}");
        return text;
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var request = context.Request;
        if (!Authorized(request.Headers["Authorization"]))
        {
            context.Response.AddHeader("WWW-Authenticate", "Bearer");
            await ReplyAsync(context, 401, Error("missing or wrong bearer token (Authorization: Bearer TOKEN)", "Authorization"));
            return;
        }
        var (status, body) = await RouteAsync(context);
        await ReplyAsync(context, status, body);
    }

    /// <summary>Compares the presented token with the expected one in constant time: both are hashed to 32 bytes
    /// (so neither the content nor the length of the expected token shows in the timing) on the stack.</summary>
    private bool Authorized(string? header)
    {
        const string scheme = "Bearer ";
        if (header is null || header.Length > scheme.Length + MaxTokenLength || !header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            return false;
        var presented = header.AsSpan(scheme.Length).Trim();
        Span<byte> utf8 = stackalloc byte[MaxTokenLength * 3];
        Span<byte> hash = stackalloc byte[32];
        var length = Encoding.UTF8.GetBytes(presented, utf8);
        SHA256.HashData(utf8[..length], hash);
        return CryptographicOperations.FixedTimeEquals(hash, _tokenHash);
    }

    private async Task<(int Status, byte[] Body)> RouteAsync(HttpListenerContext context)
    {
        var method = context.Request.HttpMethod;
        var path = context.Request.Url?.AbsolutePath ?? "";
        // Segments after /v1, each unescaped on its own ("[fd00::2]:6000" arrives as %5Bfd00%3A%3A2%5D%3A6000).
        var segments = path.Length > PathPrefix.Length ? path[(PathPrefix.Length + 1)..].Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToArray() : [];
        try
        {
            switch (segments)
            {
                case ["channels"] when method == "GET":
                    return (200, Json(ChannelsView(_snapshot())));
                case ["counters"] when method == "GET":
                    return (200, Json(_snapshot()));
                case ["channels", var channel, "subscribers"] when method == "POST":
                {
                    var id = ChannelId(channel);
                    using var document = await ReadBodyAsync(context.Request);
                    var subscriber = RelayConfigFile.ParseSubscriber(document.RootElement, "request body", _sources.Host.Features);
                    var change = _sources.Add(id, subscriber);
                    _log.LogInformation("control API: subscriber {Address} added to channel {Channel} ({Change})", subscriber.Address, id, change);
                    return (201, Json(SubscriberView(id, subscriber.Address)));
                }
                case ["channels", var channel, "subscribers", var address] when method == "DELETE":
                {
                    var id = ChannelId(channel);
                    var endpoint = Address(address);
                    var change = _sources.Remove(id, endpoint);
                    _log.LogInformation("control API: subscriber {Address} removed from channel {Channel} ({Change})", endpoint, id, change);
                    return (200, Json(new ControlResult($"{endpoint} removed from channel {id}")));
                }
                case ["channels", var channel, "subscribers", var address, "budget"] when method == "PUT":
                {
                    var id = ChannelId(channel);
                    var endpoint = Address(address);
                    using var document = await ReadBodyAsync(context.Request);
                    var budget = RelayConfigFile.ParseBudget(document.RootElement, "request body", _sources.Host.Features);
                    _sources.SetBudget(id, endpoint, budget);
                    _log.LogInformation("control API: budget of {Address} in channel {Channel} {Budget}", endpoint, id, budget is null ? "cleared" : $"set to {budget.BytesPerSecond} B/s");
                    return (200, Json(SubscriberView(id, endpoint)));
                }
                case ["channels"] or ["counters"] or ["channels", _, "subscribers"] or ["channels", _, "subscribers", _] or ["channels", _, "subscribers", _, "budget"]:
                    return (405, Error($"{method} is not served on {path}", "method"));
                default:
                    return (404, Error($"no endpoint {method} {path} (GET /v1/channels, GET /v1/counters, POST /v1/channels/ID/subscribers, " +
                                       "DELETE /v1/channels/ID/subscribers/ADDRESS, PUT /v1/channels/ID/subscribers/ADDRESS/budget)", "path"));
            }
        }
        catch (ControlRequestException e)
        {
            return (e.Status, Error(e.Message, e.Field));
        }
        catch (ConfigFieldException e)
        {
            return (400, Error(e.Problem, e.Key == "(top level)" ? "body" : e.Key));
        }
        catch (PlanEditException e)
        {
            return (e.Problem == PlanEditProblem.NotFound ? 404 : 409, Error(e.Message, e.Field));
        }
        catch (ArgumentException e)
        {
            // The host refused the merged plan (it does not fit the protocol); nothing was changed.
            return (409, Error(e.Message, "body"));
        }
    }

    private static ulong ChannelId(string text) =>
        ulong.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id)
            ? id
            : throw new ControlRequestException(400, "channel", $"\"{Truncate(text)}\" is not a channel id (a non-negative integer)");

    private static IPEndPoint Address(string text) =>
        text.Contains(':', StringComparison.Ordinal) && IPEndPoint.TryParse(text, out var endpoint) && endpoint.Port != 0
            ? endpoint
            : throw new ControlRequestException(400, "address", $"\"{Truncate(text)}\" is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)");

    private static string Truncate(string text) => text.Length <= 64 ? text : text[..64] + "...";

    /// <summary>Reads at most <see cref="MaxBodyBytes"/> (a declared length above it is refused unread) and parses it.</summary>
    private static async Task<JsonDocument> ReadBodyAsync(HttpListenerRequest request)
    {
        if (request.ContentLength64 > MaxBodyBytes)
            throw new ControlRequestException(413, "body", $"{request.ContentLength64} bytes; the control API reads at most {MaxBodyBytes}");
        var buffer = new byte[MaxBodyBytes + 1];
        var length = 0;
        int read;
        // A deadline for the whole body: the API serves one request at a time, so a client that trickles its body must
        // not hold it (HttpListener's stream ignores cancellation tokens, hence WaitAsync).
        using var deadline = new CancellationTokenSource(BodyReadTimeout);
        try
        {
            while (length < buffer.Length && (read = await request.InputStream.ReadAsync(buffer.AsMemory(length)).AsTask().WaitAsync(deadline.Token)) > 0)
                length += read;
        }
        catch (OperationCanceledException)
        {
            throw new ControlRequestException(408, "body", $"not received within {BodyReadTimeout.TotalSeconds:0} s");
        }
        if (length > MaxBodyBytes)
            throw new ControlRequestException(413, "body", $"more than {MaxBodyBytes} bytes");
        if (length == 0)
            throw new ControlRequestException(400, "body", "empty: expected JSON");
        try
        {
            return JsonDocument.Parse(buffer.AsMemory(0, length), BodyOptions);
        }
        catch (JsonException e)
        {
            throw new ControlRequestException(400, "body", $"not valid JSON: {e.Message}");
        }
    }

    private object SubscriberView(ulong channel, IPEndPoint address)
    {
        var status = _snapshot();
        return status.Subscribers.FirstOrDefault(s => s.Channel == channel && s.Address == address.ToString())
               ?? (object)new ControlResult($"{address} in channel {channel}");
    }

    public static ControlChannels ChannelsView(GenericRelayStatus status) =>
        new(status.Name, status.Protocol, status.Mode, status.Channels.Select(c =>
            new ControlChannel(c.Id, c.Upstream, status.Subscribers.Where(s => s.Channel == c.Id).ToList())).ToList());

    private static byte[] Error(string message, string field) => Json(new ControlError(message, field));

    private static byte[] Json(object value) => JsonSerializer.SerializeToUtf8Bytes(value, value.GetType(), RelayControlJson.Default);

    private static async Task ReplyAsync(HttpListenerContext context, int status, byte[] body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.ContentLength64 = body.Length;
        await context.Response.OutputStream.WriteAsync(body);
        context.Response.Close();
    }

    public async ValueTask DisposeAsync()
    {
        if (_http is not null)
            await _http.DisposeAsync();
    }
}

/// <summary>A request refused before it reached the plan: the HTTP status, the field at fault, why.</summary>
internal sealed class ControlRequestException(int status, string field, string message) : Exception(message)
{
    public int Status { get; } = status;
    public string Field { get; } = field;
}

/// <summary>Every refusal: what is wrong and which field (a JSON key path, "body", "channel", "address", "Authorization").</summary>
public sealed record ControlError(string Error, string Field);

public sealed record ControlResult(string Result);

/// <summary>GET /v1/channels.</summary>
public sealed record ControlChannels(string Name, string Protocol, string Mode, IReadOnlyList<ControlChannel> Channels);

public sealed record ControlChannel(ulong Id, string? Upstream, IReadOnlyList<GenericSubscriberStatus> Subscribers);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ControlError))]
[JsonSerializable(typeof(ControlResult))]
[JsonSerializable(typeof(ControlChannels))]
[JsonSerializable(typeof(GenericSubscriberStatus))]
[JsonSerializable(typeof(GenericRelayStatus))]
public sealed partial class RelayControlJson : JsonSerializerContext;
