using System.Net;
using CliWrap.Buffered;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using FastRelay.Cli.Relay;
using FastRelay.Relay;
using FastRelay.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using SampleProtocol;
using Xunit;

namespace FastRelay.Tests.GenericRelay;

/// <summary>
/// The control API (`relay --control`) over real HTTP against a real <see cref="RelayHost"/> (userspace plane, so no
/// kernel is needed): authentication, hostile requests refused with the field named, and the rule that keeps the API's
/// changes and the configuration file's from fighting (<see cref="RelayPlanSources"/>). The walkthrough's tick_feed
/// descriptor is used because it has every subscriber option (connection id, budget, stream mappings).
/// </summary>
public sealed class RelayControlApiTests : IAsyncLifetime
{
    private const string Token = "0123456789abcdef0123456789abcdef";
    private const ulong Channel = 7;
    private static readonly IPEndPoint FileSubscriber = IPEndPoint.Parse("10.1.0.2:9200"), Sender = IPEndPoint.Parse("10.0.0.2:9100");

    private readonly RelayHost _host;
    private readonly RelayPlanSources _sources;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private RelayControlApi _api = null!;

    public RelayControlApiTests()
    {
        var protocol = TickHeaderFastPath.Protocol;
        var plane = new UserspaceFanOut(DescriptorFields.Of(typeof(TickHeader)), protocol.MaxSubscribers);
        _host = new RelayHost(plane, protocol, 9100, NullLogger.Instance, (slot, channel, sub, _) =>
            new KernelSubscriber(slot, channel, sub.Address, new IPEndPoint(IPAddress.IPv6Any, 9100), 0, new byte[6], new byte[6], sub.ConnectionId));
        _sources = new RelayPlanSources(_host);
        _sources.ApplyFile(FilePlan(FileSubscriber), out _);
    }

    public Task InitializeAsync()
    {
        _api = RelayControlApi.Start($"127.0.0.1:{FreePorts.Tcp()}", Token, _sources, Snapshot, NullLogger.Instance);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        _http.Dispose();
        _host.Dispose();
    }

    private static RelayPlan FilePlan(params IPEndPoint[] subscribers) =>
        new([new ChannelPlan(Channel, Sender, subscribers.Select(s => new SubscriberPlan(s)).ToList(), new Dictionary<ulong, ulong> { [1] = 1 })]);

    private GenericRelayStatus Snapshot() =>
        new(GenericRelayStatus.KindName, "test", _host.Plane.Mode, "tick_feed", nameof(TickHeader), 9100, Environment.ProcessId, DateTimeOffset.Now, "renumbered", [],
            _host.Plan.Channels.Select(c => new GenericChannelStatus(c.Id, c.Upstream?.ToString(), c.Subscribers.Count)).ToList(),
            _host.Subscribers().Select(s => new GenericSubscriberStatus(s.Channel, s.Plan.Name ?? s.Plan.Address.ToString(), s.Plan.Address.ToString(), s.Slot, s.Problem,
                s.Counters.ForwardedPackets, s.Counters.ForwardedBytes, s.Counters.DroppedBudget, s.Counters.ReceivedPackets,
                _sources.OwnerOf(s.Channel, s.Plan.Address) == SubscriberOwner.Api ? "api" : "file", s.Plan.Budget)).ToList(),
            0, _host.Plane.PlaneCounters());

    private async Task<(HttpStatusCode Status, JsonElement Body)> Send(HttpMethod method, string path, string? body = null, string? token = Token)
    {
        using var request = new HttpRequestMessage(method, $"{_api.Url}/{path}");
        if (token is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.StartsWith("application/json", response.Content.Headers.ContentType?.ToString());
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private static void AssertRefused(HttpStatusCode expected, string field, (HttpStatusCode Status, JsonElement Body) answer)
    {
        Assert.True(expected == answer.Status, $"expected {expected}, got {answer.Status}: {answer.Body}");
        Assert.Equal(field, answer.Body.GetProperty("field").GetString());
        Assert.False(string.IsNullOrEmpty(answer.Body.GetProperty("error").GetString()));
    }

    private IReadOnlyList<string> Subscribers() => _host.Subscribers().Where(s => s.Slot >= 0).Select(s => s.Plan.Address.ToString()).Order().ToList();

    [Fact]
    public async Task Without_the_right_token_nothing_is_read_or_changed()
    {
        var add = """{"address": "10.1.0.9:9200"}""";
        AssertRefused(HttpStatusCode.Unauthorized, "Authorization", await Send(HttpMethod.Post, "channels/7/subscribers", add, token: null));
        AssertRefused(HttpStatusCode.Unauthorized, "Authorization", await Send(HttpMethod.Post, "channels/7/subscribers", add, token: Token[..^1] + "0"));
        AssertRefused(HttpStatusCode.Unauthorized, "Authorization", await Send(HttpMethod.Post, "channels/7/subscribers", add, token: Token + "0"));
        AssertRefused(HttpStatusCode.Unauthorized, "Authorization", await Send(HttpMethod.Get, "channels", token: new string('x', 5000)));
        AssertRefused(HttpStatusCode.Unauthorized, "Authorization", await Send(HttpMethod.Get, "counters", token: "wrong"));
        Assert.Equal([FileSubscriber.ToString()], Subscribers());
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, "channels")).Status);
    }

    [Fact]
    public async Task Hostile_requests_are_refused_with_the_field_named_and_change_nothing()
    {
        AssertRefused(HttpStatusCode.RequestEntityTooLarge, "body",
            await Send(HttpMethod.Post, "channels/7/subscribers", $$"""{"address": "10.1.0.9:9200", "name": "{{new string('n', 5000)}}"}"""));
        AssertRefused(HttpStatusCode.BadRequest, "body", await Send(HttpMethod.Post, "channels/7/subscribers", "{\"address\": "));
        AssertRefused(HttpStatusCode.BadRequest, "body", await Send(HttpMethod.Post, "channels/7/subscribers", new string('[', 100) + new string(']', 100)));
        AssertRefused(HttpStatusCode.BadRequest, "body", await Send(HttpMethod.Post, "channels/7/subscribers", "42"));
        AssertRefused(HttpStatusCode.BadRequest, "address", await Send(HttpMethod.Post, "channels/7/subscribers", """{"address": "10.1.0.9"}"""));
        AssertRefused(HttpStatusCode.BadRequest, "address", await Send(HttpMethod.Post, "channels/7/subscribers", """{"name": "no address"}"""));
        AssertRefused(HttpStatusCode.BadRequest, "colour", await Send(HttpMethod.Post, "channels/7/subscribers", """{"address": "10.1.0.9:9200", "colour": "red"}"""));
        AssertRefused(HttpStatusCode.BadRequest, "connectionId", await Send(HttpMethod.Post, "channels/7/subscribers", """{"address": "10.1.0.9:9200", "connectionId": "abc"}"""));
        AssertRefused(HttpStatusCode.BadRequest, "budget.burstBytes",
            await Send(HttpMethod.Post, "channels/7/subscribers", """{"address": "10.1.0.9:9200", "budget": {"bytesPerSecond": 1000}}"""));
        AssertRefused(HttpStatusCode.BadRequest, "channel", await Send(HttpMethod.Post, "channels/seven/subscribers", """{"address": "10.1.0.9:9200"}"""));
        AssertRefused(HttpStatusCode.NotFound, "channel", await Send(HttpMethod.Post, "channels/8/subscribers", """{"address": "10.1.0.9:9200"}"""));
        AssertRefused(HttpStatusCode.BadRequest, "address", await Send(HttpMethod.Delete, "channels/7/subscribers/not-an-address"));
        AssertRefused(HttpStatusCode.NotFound, "address", await Send(HttpMethod.Delete, "channels/7/subscribers/10.1.0.99:9200"));
        AssertRefused(HttpStatusCode.NotFound, "path", await Send(HttpMethod.Get, "nothing/here"));
        AssertRefused(HttpStatusCode.MethodNotAllowed, "method", await Send(HttpMethod.Delete, "channels"));
        Assert.Equal([FileSubscriber.ToString()], Subscribers());
    }

    [Fact]
    public async Task A_client_that_trickles_its_body_gets_408_and_the_api_serves_the_next_request()
    {
        // Headers promise 100 bytes, 10 come, then nothing: the one-request-at-a-time API must not wait forever.
        var uri = new Uri(_api.Url);
        using var slow = new System.Net.Sockets.TcpClient();
        await slow.ConnectAsync(uri.Host, uri.Port);
        var stream = slow.GetStream();
        var head = $"POST {uri.AbsolutePath.TrimEnd('/')}/channels/{Channel}/subscribers HTTP/1.1\r\nHost: {uri.Host}\r\n" +
                   $"Authorization: Bearer {Token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"address\"";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        var started = DateTime.UtcNow;
        var answer = new byte[512];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var n = await stream.ReadAsync(answer, deadline.Token);
        Assert.StartsWith("HTTP/1.1 408", Encoding.ASCII.GetString(answer, 0, n));
        Assert.True(DateTime.UtcNow - started >= RelayControlApi.BodyReadTimeout - TimeSpan.FromMilliseconds(500), "answered before the deadline");

        var (status, _) = await Send(HttpMethod.Get, "counters");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal([FileSubscriber.ToString()], Subscribers());
    }

    [Fact]
    public async Task Api_subscribers_live_beside_the_files_a_reload_keeps_them_and_the_file_keeps_its_own()
    {
        var added = IPEndPoint.Parse("10.1.0.3:9200");
        var v6 = IPEndPoint.Parse("[fd00:1::5]:9200");
        var answer = await Send(HttpMethod.Post, "channels/7/subscribers",
            """{"address": "10.1.0.3:9200", "name": "desk-b", "connectionId": "0a0b0c0d", "budget": {"bytesPerSecond": 2000000, "burstBytes": 65536}}""");
        Assert.Equal(HttpStatusCode.Created, answer.Status);
        Assert.Equal("api", answer.Body.GetProperty("owner").GetString());
        Assert.True(answer.Body.GetProperty("slot").GetInt32() >= 0);
        Assert.Equal(HttpStatusCode.Created, (await Send(HttpMethod.Post, "channels/7/subscribers", "\"[fd00:1::5]:9200\"")).Status);
        Assert.Equal(new[] { FileSubscriber, added, v6 }.Select(a => a.ToString()).Order(), Subscribers());
        var hosted = _host.Subscribers().Single(s => s.Plan.Address.Equals(added));
        Assert.Equal(new byte[] { 0x0a, 0x0b, 0x0c, 0x0d }, hosted.Plan.ConnectionId);
        Assert.Equal(new BudgetPlan(2000000, 65536, 0, 8), hosted.Plan.Budget);

        // Twice the same, or the file's: conflicts.
        AssertRefused(HttpStatusCode.Conflict, "address", await Send(HttpMethod.Post, "channels/7/subscribers", "\"10.1.0.3:9200\""));
        AssertRefused(HttpStatusCode.Conflict, "address", await Send(HttpMethod.Post, "channels/7/subscribers", $"\"{FileSubscriber}\""));
        // The file's subscriber is the file's: the API neither removes nor re-budgets it.
        AssertRefused(HttpStatusCode.Conflict, "address", await Send(HttpMethod.Delete, $"channels/7/subscribers/{FileSubscriber}"));
        AssertRefused(HttpStatusCode.Conflict, "address", await Send(HttpMethod.Put, $"channels/7/subscribers/{FileSubscriber}/budget", "null"));

        // The list shows both owners.
        var list = await Send(HttpMethod.Get, "channels");
        var owners = list.Body.GetProperty("channels")[0].GetProperty("subscribers").EnumerateArray()
            .ToDictionary(s => s.GetProperty("address").GetString()!, s => s.GetProperty("owner").GetString());
        Assert.Equal("file", owners[FileSubscriber.ToString()]);
        Assert.Equal("api", owners[added.ToString()]);

        // A reload of the file (a new file subscriber) keeps the API's, options and slot unchanged.
        var slot = hosted.Slot;
        var fileB = IPEndPoint.Parse("10.1.0.4:9200");
        _sources.ApplyFile(FilePlan(FileSubscriber, fileB), out var dropped);
        Assert.Empty(dropped);
        Assert.Equal(new[] { FileSubscriber, added, v6, fileB }.Select(a => a.ToString()).Order(), Subscribers());
        Assert.Equal(slot, _host.Subscribers().Single(s => s.Plan.Address.Equals(added)).Slot);
        Assert.Equal(new BudgetPlan(2000000, 65536, 0, 8), _host.Subscribers().Single(s => s.Plan.Address.Equals(added)).Plan.Budget);

        // Budget through the API (its own subscriber), then cleared.
        var budget = await Send(HttpMethod.Put, "channels/7/subscribers/10.1.0.3%3A9200/budget", """{"bytesPerSecond": 500, "burstBytes": 1500, "dropFromLevel": 3}""");
        Assert.Equal(HttpStatusCode.OK, budget.Status);
        Assert.Equal(new BudgetPlan(500, 1500, 0, 3), _host.Subscribers().Single(s => s.Plan.Address.Equals(added)).Plan.Budget);
        AssertRefused(HttpStatusCode.BadRequest, "dropFromLevel", await Send(HttpMethod.Put, "channels/7/subscribers/10.1.0.3:9200/budget", """{"bytesPerSecond": 500, "burstBytes": 1500, "dropFromLevel": 99}"""));
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, "channels/7/subscribers/10.1.0.3:9200/budget", "null")).Status);
        Assert.Null(_host.Subscribers().Single(s => s.Plan.Address.Equals(added)).Plan.Budget);

        // Removed through the API: its slot is free again (the plane has no subscriber there any more).
        var removed = await Send(HttpMethod.Delete, $"channels/7/subscribers/{Uri.EscapeDataString(v6.ToString())}");
        Assert.Equal(HttpStatusCode.OK, removed.Status);
        Assert.Equal(new[] { FileSubscriber, added, fileB }.Select(a => a.ToString()).Order(), Subscribers());

        // The file starts listing the API's subscriber: the file's entry takes over (and the reload says so).
        _sources.ApplyFile(FilePlan(FileSubscriber, fileB, added), out dropped);
        Assert.Single(dropped);
        Assert.Contains("10.1.0.3:9200", dropped[0]);
        Assert.Equal(SubscriberOwner.File, _sources.OwnerOf(Channel, added));
        Assert.Null(_host.Subscribers().Single(s => s.Plan.Address.Equals(added)).Plan.ConnectionId); // the file's options
        // ... and a later reload without it removes it: the file owns it now.
        _sources.ApplyFile(FilePlan(FileSubscriber), out _);
        Assert.Equal([FileSubscriber.ToString()], Subscribers());
    }

    [Fact]
    public async Task A_full_relay_refuses_an_api_subscriber_and_a_reload_that_would_not_fit_is_refused_whole()
    {
        // tick_feed has 8 slots: the file's 1 + 7 through the API.
        for (var i = 0; i < 7; i++)
            Assert.Equal(HttpStatusCode.Created, (await Send(HttpMethod.Post, "channels/7/subscribers", $"\"10.1.1.{i}:9200\"")).Status);
        AssertRefused(HttpStatusCode.Conflict, "address", await Send(HttpMethod.Post, "channels/7/subscribers", "\"10.1.1.99:9200\""));
        var before = Subscribers();
        Assert.Throws<ArgumentException>(() => _sources.ApplyFile(FilePlan(FileSubscriber, IPEndPoint.Parse("10.1.0.4:9200")), out _));
        Assert.Equal(before, Subscribers());
        Assert.Equal([FileSubscriber], _sources.FilePlan.Channels[0].Subscribers.Select(s => s.Address));
    }

    [Fact]
    public async Task Copies_follow_api_adds_and_removes_and_the_counters_show_them()
    {
        // The userspace plane copies for real on loopback: the relay socket, a sender the channel allows, two receivers.
        using var relaySocket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetworkV6, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp) { DualMode = true, ReceiveTimeout = 100 };
        relaySocket.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        var relay = new IPEndPoint(IPAddress.Loopback, ((IPEndPoint)relaySocket.LocalEndPoint!).Port);
        using var sender = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        sender.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var fileReceiver = new UdpCollector(Loopback(), "file");
        using var apiReceiver = new UdpCollector(Loopback(), "api");
        _sources.ApplyFile(new RelayPlan([new ChannelPlan(Channel, (IPEndPoint)sender.LocalEndPoint!, [new SubscriberPlan(fileReceiver.Endpoint)], new Dictionary<ulong, ulong> { [1] = 1 })]), out _);
        using var stop = new CancellationTokenSource();
        var plane = (UserspaceFanOut)_host.Plane;
        var loop = Task.Factory.StartNew(() => plane.Run(relaySocket, stop.Token), TaskCreationOptions.LongRunning);
        try
        {
            Assert.Equal(HttpStatusCode.Created, (await Send(HttpMethod.Post, "channels/7/subscribers", $"\"{apiReceiver.Endpoint}\"")).Status);
            for (var i = 0; i < 10; i++)
                sender.SendTo(Tick(i), relay);
            await Eventually.TrueAsync(() => fileReceiver.Count == 10 && apiReceiver.Count == 10, "both receivers get the first 10 ticks", TimeSpan.FromSeconds(20));

            var counters = await Send(HttpMethod.Get, "counters");
            Assert.Equal(HttpStatusCode.OK, counters.Status);
            var forwarded = counters.Body.GetProperty("subscribers").EnumerateArray().ToDictionary(s => s.GetProperty("address").GetString()!, s => s.GetProperty("forwarded").GetUInt64());
            Assert.Equal(10UL, forwarded[fileReceiver.Endpoint.ToString()]);
            Assert.Equal(10UL, forwarded[apiReceiver.Endpoint.ToString()]);
            Assert.Equal(10UL, counters.Body.GetProperty("kernel").GetProperty("upstream_matched").GetUInt64());
            Assert.Equal(20UL, counters.Body.GetProperty("kernel").GetProperty("clones").GetUInt64());

            Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Delete, $"channels/7/subscribers/{apiReceiver.Endpoint}")).Status);
            for (var i = 10; i < 20; i++)
                sender.SendTo(Tick(i), relay);
            await Eventually.TrueAsync(() => fileReceiver.Count == 20, "the file's receiver gets the next 10", TimeSpan.FromSeconds(20));
            Assert.Equal(10, apiReceiver.Count); // nothing after its removal (its copies would have been sent before the file's 20th)
            var list = await Send(HttpMethod.Get, "channels");
            Assert.Equal(1, list.Body.GetProperty("channels")[0].GetProperty("subscribers").GetArrayLength());
        }
        finally
        {
            stop.Cancel();
            relaySocket.Close();
            await loop;
        }
    }

    private static System.Net.Sockets.Socket Loopback()
    {
        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    private static byte[] Tick(int sequence) => TickDatagram.Build((uint)Channel, (ulong)sequence);

    [Fact]
    public async Task Relay_ctl_commands_drive_the_api_and_print_what_it_answered()
    {
        var work = Directory.CreateTempSubdirectory("frct-ctl-").FullName;
        try
        {
            var tokenFile = Path.Combine(work, "token");
            RelayControlApi.WriteTokenFile(tokenFile, Token);
            var address = _api.Url["http://".Length..^RelayControlApi.PathPrefix.Length]; // HOST:PORT, as given to --control
            async Task<CliWrap.Buffered.BufferedCommandResult> Ctl(params string[] args) =>
                await CliWrap.Cli.Wrap("dotnet").WithArguments([FastRelay.Cli.Scenario.RelayScenario.FastRelayDll, "relay", "ctl", .. args, "--control", address, "--token-file", tokenFile])
                    .WithValidation(CliWrap.CommandResultValidation.None).ExecuteBufferedAsync();

            var add = await Ctl("add", "--channel", "7", "--address", "10.1.0.3:9200", "--label", "desk-b", "--connection-id", "0a0b0c0d", "--rate", "2000000", "--burst", "65536");
            Assert.True(add.ExitCode == 0, add.StandardError);
            Assert.Matches(@"^10\.1\.0\.3:9200 added to channel 7: slot \d+, budget 2000000 B/s burst 65536 B", add.StandardOutput);
            Assert.Equal(new BudgetPlan(2000000, 65536, 0, 8), _host.Subscribers().Single(x => x.Plan.Address.ToString() == "10.1.0.3:9200").Plan.Budget);

            var budget = await Ctl("budget", "--channel", "7", "--address", "10.1.0.3:9200", "--clear");
            Assert.True(budget.ExitCode == 0, budget.StandardError);
            Assert.Contains("no budget", budget.StandardOutput);
            Assert.Null(_host.Subscribers().Single(x => x.Plan.Address.ToString() == "10.1.0.3:9200").Plan.Budget);

            var missingBurst = await Ctl("budget", "--channel", "7", "--address", "10.1.0.3:9200", "--rate", "1000");
            Assert.Equal(1, missingBurst.ExitCode);
            Assert.Contains("field burstBytes", missingBurst.StandardError);

            var list = await Ctl("list");
            Assert.True(list.ExitCode == 0, list.StandardError);
            Assert.Contains("channel 7: upstream 10.0.0.2:9100, 2 subscribers", list.StandardOutput);
            Assert.Matches(@"10\.1\.0\.3:9200\s+desk-b\s+api", list.StandardOutput);
            Assert.Matches(@"10\.1\.0\.2:9200\s+file", list.StandardOutput);

            var counters = await Ctl("counters", "--json");
            Assert.True(counters.ExitCode == 0, counters.StandardError);
            Assert.Equal(2, JsonDocument.Parse(counters.StandardOutput).RootElement.GetProperty("subscribers").GetArrayLength());

            var fileOwned = await Ctl("remove", "--channel", "7", "--address", FileSubscriber.ToString());
            Assert.Equal(1, fileOwned.ExitCode);
            Assert.Contains("listed in the configuration file", fileOwned.StandardError);

            var remove = await Ctl("remove", "--channel", "7", "--address", "10.1.0.3:9200");
            Assert.True(remove.ExitCode == 0, remove.StandardError);
            Assert.Contains("10.1.0.3:9200 removed from channel 7", remove.StandardOutput);
            Assert.Equal([FileSubscriber.ToString()], Subscribers());
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public void Token_files_are_written_for_the_owner_only_and_short_or_spaced_tokens_are_refused()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("frct-token-").FullName, "relay.control-token");
        try
        {
            RelayControlApi.WriteTokenFile(path, Token);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(Token, RelayControlApi.ReadTokenFile(path, "--token-file"));
            Assert.Equal(64, RelayControlApi.NewToken().Length);
            File.WriteAllText(path, "short");
            Assert.Contains("--token-file", Assert.Throws<FastRelay.Cli.UserFacingException>(() => RelayControlApi.ReadTokenFile(path, "--token-file")).Message);
            File.WriteAllText(path, "has a space in the middle of it");
            Assert.Throws<FastRelay.Cli.UserFacingException>(() => RelayControlApi.ReadTokenFile(path, "--token-file"));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }
}
