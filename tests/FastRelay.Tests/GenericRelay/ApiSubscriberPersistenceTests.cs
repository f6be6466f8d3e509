using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using FastRelay.Cli.Relay;
using FastRelay.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using SampleProtocol;
using Xunit;

namespace FastRelay.Tests.GenericRelay;

/// <summary>
/// Subscribers added through the control API outlive a restart of the relay: the real `fastrelay relay` runner
/// (userspace mode, loopback, the control API on) is started, given a subscriber through the API, stopped and started
/// again from the same configuration; the subscriber is back with its owner and options and gets copies, and once the
/// API removes it, a third start has the file's subscriber only.
/// </summary>
public sealed class ApiSubscriberPersistenceTests : IDisposable
{
    private const ulong Channel = 7;
    private const string Token = "fr1h-persistence-token-0123456789";
    private readonly string _work = Directory.CreateTempSubdirectory("fr1h-state-").FullName;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };

    public void Dispose()
    {
        _http.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task A_subscriber_added_through_the_api_is_back_after_a_restart_until_the_api_removes_it()
    {
        using var sender = Loopback();
        using var fileReceiver = new UdpCollector(Loopback(), "file");
        using var apiReceiver = new UdpCollector(Loopback(), "api");
        var config = Path.Combine(_work, "relay.json");
        File.WriteAllText(config, JsonSerializer.Serialize(new
        {
            channels = new[] { new { id = Channel, upstream = sender.LocalEndPoint!.ToString(), streams = new[] { 1 }, subscribers = new[] { fileReceiver.Endpoint.ToString() } } },
        }));
        var tokenFile = Path.Combine(_work, "control.token");
        File.WriteAllText(tokenFile, Token);
        var port = FreeUdpPort();
        var control = $"127.0.0.1:{FreePorts.Tcp()}";
        var options = new GenericRelayOptions
        {
            Assemblies = [typeof(TickHeader).Assembly.Location],
            Protocol = "tick_feed",
            ConfigPath = config,
            Port = port,
            Name = "fr1h-state",
            Mode = RelayMode.Userspace,
            StatusFile = Path.Combine(_work, "status.json"),
            ControlAddress = control,
            ControlTokenFile = tokenFile,
        };
        var relay = new IPEndPoint(IPAddress.Loopback, port);
        var stateFile = ApiSubscriberState.PathFor(config);
        var sequence = 0;
        void SendTicks(int count)
        {
            for (var i = 0; i < count; i++)
                sender.SendTo(Tick(sequence++), relay);
        }

        // First run: the API adds a subscriber with a name and a budget; it gets copies and is written to the state file.
        await using (var first = await RunningRelay.StartAsync(options, control, _http))
        {
            var body = $$$"""{"address": "{{{apiReceiver.Endpoint}}}", "name": "late-desk", "budget": {"bytesPerSecond": 1000000, "burstBytes": 65536}}""";
            Assert.Equal(HttpStatusCode.Created, (await first.SendAsync(HttpMethod.Post, $"channels/{Channel}/subscribers", body)).Status);
            Assert.True(File.Exists(stateFile), "the API's subscriber was not saved");
            SendTicks(5);
            await Eventually.TrueAsync(() => fileReceiver.Count == 5 && apiReceiver.Count == 5, "both receivers get the first run's 5 ticks", TimeSpan.FromSeconds(20));
        }

        // Second run, same configuration: the API's subscriber is back, still the API's, with its options, and gets copies.
        await using (var second = await RunningRelay.StartAsync(options, control, _http))
        {
            var subscribers = await second.SubscribersAsync();
            Assert.Equal(2, subscribers.Count);
            var restored = subscribers[apiReceiver.Endpoint.ToString()];
            Assert.Equal("api", restored.GetProperty("owner").GetString());
            Assert.Equal("late-desk", restored.GetProperty("name").GetString());
            Assert.Equal(65536, restored.GetProperty("budget").GetProperty("burstBytes").GetInt64());
            Assert.True(restored.GetProperty("slot").GetInt32() >= 0, "the restored subscriber has no slot");
            Assert.Equal("file", subscribers[fileReceiver.Endpoint.ToString()].GetProperty("owner").GetString());
            SendTicks(5);
            await Eventually.TrueAsync(() => fileReceiver.Count == 10 && apiReceiver.Count == 10, "both receivers get the second run's 5 ticks", TimeSpan.FromSeconds(20));

            // Removed through the API: gone from the state too.
            Assert.Equal(HttpStatusCode.OK, (await second.SendAsync(HttpMethod.Delete, $"channels/{Channel}/subscribers/{apiReceiver.Endpoint}")).Status);
            Assert.False(File.Exists(stateFile), "the state file outlived the last API subscriber");
        }

        // Third run: the file's subscriber only, and the removed one gets nothing more.
        await using (var third = await RunningRelay.StartAsync(options, control, _http))
        {
            Assert.Equal([fileReceiver.Endpoint.ToString()], (await third.SubscribersAsync()).Keys);
            SendTicks(5);
            await Eventually.TrueAsync(() => fileReceiver.Count == 15, "the file's receiver gets the third run's 5 ticks", TimeSpan.FromSeconds(20));
            Assert.Equal(10, apiReceiver.Count);
        }
    }

    [Fact]
    public void Saved_subscribers_that_no_longer_fit_the_file_are_not_restored_and_the_state_is_rewritten_without_them()
    {
        var protocol = TickHeaderFastPath.Protocol;
        var features = FastRelay.Relay.ProtocolFeatures.Of(protocol);
        var state = new ApiSubscriberState(Path.Combine(_work, "relay.api-subscribers.json"), features);
        IPEndPoint fileOwn = IPEndPoint.Parse("10.1.0.2:9200"), kept = IPEndPoint.Parse("10.1.0.3:9200"),
            nowInFile = IPEndPoint.Parse("10.1.0.4:9200"), orphan = IPEndPoint.Parse("10.1.0.5:9200");
        state.Save(new Dictionary<ulong, IReadOnlyList<FastRelay.Relay.SubscriberPlan>>
        {
            [Channel] = [new(kept, "kept", [1, 2, 3, 4]), new(nowInFile)],
            [8] = [new(orphan)],
        });
        var plane = new FastRelay.Relay.UserspaceFanOut(FastRelay.Relay.DescriptorFields.Of(typeof(TickHeader)), protocol.MaxSubscribers);
        using var host = new FastRelay.Relay.RelayHost(plane, protocol, 9100, NullLogger.Instance, (slot, channel, sub, _) =>
            new FastRelay.Relay.KernelSubscriber(slot, channel, sub.Address, new IPEndPoint(IPAddress.IPv6Any, 9100), 0, new byte[6], new byte[6], sub.ConnectionId));
        var sources = new FastRelay.Relay.RelayPlanSources(host, state.Save);
        // The file of this run: channel 7 only, and it lists one of the saved addresses itself now.
        sources.ApplyFile(new FastRelay.Relay.RelayPlan([new FastRelay.Relay.ChannelPlan(Channel, null,
            [new FastRelay.Relay.SubscriberPlan(fileOwn), new FastRelay.Relay.SubscriberPlan(nowInFile)], new Dictionary<ulong, ulong> { [1] = 1 })]), out _);

        sources.Restore(state.Load(), out var dropped);

        Assert.Equal(2, dropped.Count);
        Assert.Contains(dropped, d => d.Contains(nowInFile.ToString()) && d.Contains("the file's entry applies"));
        Assert.Contains(dropped, d => d.Contains(orphan.ToString()) && d.Contains("not in the configuration file"));
        Assert.Equal(FastRelay.Relay.SubscriberOwner.Api, sources.OwnerOf(Channel, kept));
        Assert.Equal(FastRelay.Relay.SubscriberOwner.File, sources.OwnerOf(Channel, nowInFile));
        Assert.Equal(3, host.Subscribers().Count(s => s.Slot >= 0));
        // What is on disk now is what runs: the kept one, with its name and connection id, and nothing else.
        var saved = state.Load();
        var only = Assert.Single(Assert.Single(saved).Value);
        Assert.Equal(kept, only.Address);
        Assert.Equal("kept", only.Name);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, only.ConnectionId);
    }

    /// <summary>`fastrelay relay` run in this process until disposed (cancelled, as Ctrl-C does).</summary>
    private sealed class RunningRelay : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly string _url;
        private readonly HttpClient _http;
        private Task _run = Task.CompletedTask;

        private RunningRelay(string control, HttpClient http)
        {
            _url = $"http://{control}/v1";
            _http = http;
        }

        public static async Task<RunningRelay> StartAsync(GenericRelayOptions options, string control, HttpClient http)
        {
            var relay = new RunningRelay(control, http);
            relay._run = Task.Run(() => GenericRelayRunner.RunAsync(options, NullLoggerFactory.Instance, relay._stop.Token));
            // Polled with a deadline: the relay is ready when its control API answers (it starts after the plan is applied).
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (true)
            {
                if (relay._run.IsCompleted)
                    await relay._run; // the relay stopped before it was ready: its exception says why
                try
                {
                    if ((await relay.SendAsync(HttpMethod.Get, "channels")).Status == HttpStatusCode.OK)
                        break;
                }
                catch (HttpRequestException)
                {
                }
                if (DateTime.UtcNow > deadline)
                    throw new TimeoutException("the relay's control API did not answer within 60 s");
                await Task.Delay(50);
            }
            return relay;
        }

        public async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpMethod method, string path, string? body = null)
        {
            using var request = new HttpRequestMessage(method, $"{_url}/{path}");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
            if (body is not null)
                request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await _http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
        }

        /// <summary>The channel's subscribers by address, as the API lists them.</summary>
        public async Task<Dictionary<string, JsonElement>> SubscribersAsync()
        {
            var (status, body) = await SendAsync(HttpMethod.Get, "channels");
            Assert.Equal(HttpStatusCode.OK, status);
            return body.GetProperty("channels")[0].GetProperty("subscribers").EnumerateArray().ToDictionary(s => s.GetProperty("address").GetString()!);
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            await _run;
            _stop.Dispose();
        }
    }

    private static Socket Loopback()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    private static int FreeUdpPort()
    {
        using var probe = Loopback();
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private static byte[] Tick(int sequence) => TickDatagram.Build((uint)Channel, (ulong)sequence);
}
