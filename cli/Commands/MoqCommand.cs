using System.CommandLine;
using System.Net.Sockets;
using FastRelay.Cli.Quic;
using FastRelay.Protocols.Moq.Clients;
using Microsoft.Extensions.Logging;
using FastRelay.Cli.Startup;

namespace FastRelay.Cli.Commands;

/// <summary>What the `moq` verbs talk to: the console and the MoQ connector in production, writers and an in-memory
/// connector in tests.</summary>
public sealed record MoqCommandEnvironment
{
    public TextWriter Out { get; init; } = Console.Out;
    public TextWriter Error { get; init; } = Console.Error;
    public Func<Stream> OpenStandardInput { get; init; } = Console.OpenStandardInput;
    public TimeProvider Time { get; init; } = TimeProvider.System;
    /// <summary>Makes the connector for one command run (it gets the run's logger factory).</summary>
    public Func<ILoggerFactory, IMoqClientConnector> Connector { get; init; } = MoqCommand.DefaultConnector;

    public static MoqCommandEnvironment Default { get; } = new();
}

/// <summary>
/// `fastrelay moq publish | subscribe` (and the relay engineer's `moq relay | status`): MoQ test clients that publish a
/// synthetic video-like track or stdin, and subscribe checking every object's integrity and one-way latency.
/// Exit codes: 0 fine; 1 a usage or connection error (one line on stderr); 3 an object failed integrity (subscribe);
/// 4 fewer objects than --expect arrived (subscribe), or publishing stopped early (publish).
/// </summary>
public static class MoqCommand
{
    /// <summary>The name and the description are constants so that CliRoot can list this command without building
    /// it (a command line names one top-level command; only that one is built, docs/startup.md).</summary>
    public const string Name = "moq";

    public const string Description = "Media over QUIC (draft-19): test publisher and subscriber (the relay is `fastrelay moq relay`).";

    public const int IntegrityFailureExitCode = 3;
    public const int IncompleteExitCode = 4;

    /// <summary>The connector the verbs and `bench --profile moq` use outside tests.</summary>
    public static IMoqClientConnector DefaultConnector(ILoggerFactory? logs = null) => new MoqSessionConnector();

    public static Command Create(MoqCommandEnvironment? environment = null)
    {
        var env = environment ?? MoqCommandEnvironment.Default;
        var command = new Command(Name, Description)
        {
            CreatePublish(env),
            CreateSubscribe(env),
        };
        // `moq relay` and `moq status` are added by MoqRelayCommand.Register (cli/Program.cs).
        return command;
    }

    private sealed class EndpointOptions
    {
        public readonly Argument<string> Url = new("url") { Description = "moqt://HOST:PORT/PATH: raw QUIC, ALPN moqt-19; https://HOST:PORT/PATH: WebTransport (HTTP/3, WT-Protocol moqt-19), as browsers connect." };
        public readonly Option<string> Namespace = new("--namespace", "-n") { Description = "Track namespace, fields separated by '/' (e.g. live/cam1).", Required = true };
        public readonly Option<string> Track = new("--track", "-t") { Description = "Track name.", Required = true };
        public readonly Option<bool> Insecure = new("--insecure", "-k") { Description = "Do not validate the relay's certificate." };
        public readonly Option<string?> TrustCert = new("--trust-cert") { Description = "PEM file with extra trusted certificates (e.g. the relay's self-signed one)." };
        public readonly Option<string?> AuthToken = new("--auth-token") { Description = "Token sent as the draft's AUTHORIZATION TOKEN parameter (USE_VALUE, type 0)." };
        public readonly Option<double> HandshakeTimeout = new("--handshake-timeout") { Description = "Seconds the QUIC handshake and MoQ SETUP may take.", DefaultValueFactory = _ => 10 };
        public readonly Option<string?> Json = new("--json") { Description = "Also write the report as JSON to FILE, or to stdout with '-' (the summary then goes to stderr)." };
        public readonly Option<bool> FastPath = new("--fast-path") { Description = "Offer disable_1rtt_encryption (0xBAAD: 1-RTT packets in clear, for a relay run with --mode fastpath; only used when the relay offers it too). publish: also send subgroup data in the kernel fast path's packet layout." };
        public CliLogging Logging { get; private set; } = null!;

        public void AddTo(Command command)
        {
            command.Add(Url);
            foreach (var option in new Option[] { Namespace, Track, Insecure, TrustCert, AuthToken, HandshakeTimeout, Json, FastPath })
                command.Add(option);
            Logging = CliLogging.AddTo(command);
        }

        public MoqClientEndpoint Endpoint(ParseResult parse, ILoggerFactory logs)
        {
            MoqUrl url;
            try { url = MoqUrl.Parse(parse.GetValue(Url)!); }
            catch (FormatException e) { throw new UserFacingException(e.Message, e); }
            if (parse.GetValue(TrustCert) is { } pem && !File.Exists(pem))
                throw new UserFacingException($"--trust-cert {pem} does not exist");
            var timeout = parse.GetValue(HandshakeTimeout);
            if (!(timeout > 0)) throw new UserFacingException("--handshake-timeout must be > 0 seconds");
            return new MoqClientEndpoint
            {
                Url = url,
                Insecure = parse.GetValue(Insecure),
                TrustCertificatePath = parse.GetValue(TrustCert),
                AuthToken = parse.GetValue(AuthToken),
                HandshakeTimeout = TimeSpan.FromSeconds(timeout),
                LoggerFactory = logs,
                FastPath = parse.GetValue(FastPath),
            };
        }

        public MoqTrackName TrackName(ParseResult parse)
        {
            try { return MoqTrackName.FromText(parse.GetValue(Namespace)!, parse.GetValue(Track)!); }
            catch (FormatException e) { throw new UserFacingException("--namespace/--track: " + e.Message, e); }
        }
    }

    private static Command CreatePublish(MoqCommandEnvironment env)
    {
        var common = new EndpointOptions();
        var bitrate = new Option<string>("--bitrate") { Description = "Synthetic track: payload bit rate (e.g. 500k, 2M, 2.5M).", DefaultValueFactory = _ => "2M" };
        var fps = new Option<double>("--fps") { Description = "Synthetic track: objects (frames) per second.", DefaultValueFactory = _ => 30 };
        var gop = new Option<int>("--gop") { Description = "Objects per group (synthetic: one key + GOP-1 deltas; input: a new group every GOP objects).", DefaultValueFactory = _ => 60 };
        var keyRatio = new Option<double>("--key-ratio") { Description = "Synthetic track: key object size / delta object size.", DefaultValueFactory = _ => 8 };
        var subgroups = new Option<string>("--subgroups") { Description = "Synthetic track: per-layer (key alone in subgroup 0, each temporal layer its own, less urgent subgroup) or per-group (one subgroup).", DefaultValueFactory = _ => "per-layer" };
        var layers = new Option<int>("--layers") { Description = "Temporal layers with --subgroups per-layer, key layer included (2..8).", DefaultValueFactory = _ => 2 };
        var keyPriority = new Option<int>("--key-priority") { Description = "Publisher priority of key subgroups (0 most urgent .. 255); input objects use it too.", DefaultValueFactory = _ => 64 };
        var layerStep = new Option<int>("--layer-priority-step") { Description = "How much less urgent each layer above the key layer is.", DefaultValueFactory = _ => 32 };
        var firstGroup = new Option<ulong>("--first-group") { Description = "Group id of the first group.", DefaultValueFactory = _ => 0 };
        var input = new Option<string?>("--input", "-i") { Description = "Publish objects read from FILE, or stdin with '-', instead of the synthetic track (see --framing)." };
        var framing = new Option<string>("--framing") { Description = "How --input is cut into objects: cmaf (init segment, then each moof+mdat chunk), size:N (every N bytes), length-prefixed (4-byte big-endian length + bytes).", DefaultValueFactory = _ => "cmaf" };
        var stamp = new Option<bool>("--stamp") { Description = "Prefix each --input object with the 52-byte test header (sequence, ids, send time, checksum) so `moq subscribe` can verify and time it." };
        var inputRate = new Option<double?>("--input-rate") { Description = "Send --input objects at most this many per second (default: as they arrive)." };
        var duration = new Option<double?>("--duration", "-d") { Description = "Seconds to publish (default: 10 for the synthetic track, until the end of --input)." };
        var count = new Option<long?>("--count") { Description = "Stop after this many objects." };
        var delay = new Option<double>("--delay") { Description = "Seconds to wait after connecting (with --wait-for-subscriber: after the first SUBSCRIBE) before the first object (lets subscribers join first).", DefaultValueFactory = _ => 0 };
        var waitForSubscriber = new Option<bool>("--wait-for-subscriber") { Description = "Send nothing until the first SUBSCRIBE for the track arrives (normally the relay's, when its first subscriber joins); then --delay." };

        var command = new Command("publish", "Publish a synthetic video-like track (key and delta objects at a bit rate and frame rate, stamped for checking) or objects from a file/stdin.");
        common.AddTo(command);
        foreach (var option in new Option[] { bitrate, fps, gop, keyRatio, subgroups, layers, keyPriority, layerStep, firstGroup, input, framing, stamp, inputRate, duration, count, delay, waitForSubscriber })
            command.Add(option);

        command.SetAction((parse, cancellationToken) => Guard(env, async () =>
        {
            var seconds = parse.GetValue(duration);
            if (seconds is { } s && !(s > 0)) throw new UserFacingException("--duration must be > 0 seconds");
            if (parse.GetValue(count) is { } c && c < 1) throw new UserFacingException("--count must be ≥ 1");
            var delaySeconds = parse.GetValue(delay);
            if (!(delaySeconds >= 0)) throw new UserFacingException("--delay must be ≥ 0 seconds");
            var priority = parse.GetValue(keyPriority) is var p and >= 0 and <= 255 ? (byte)p : throw new UserFacingException("--key-priority must be 0..255");
            var step = parse.GetValue(layerStep) is var st and >= 0 and <= 255 ? (byte)st : throw new UserFacingException("--layer-priority-step must be 0..255");
            var inputPath = parse.GetValue(input);

            // Everything the user typed is checked before connecting.
            SyntheticTrack? synthetic = null;
            InputPublishOptions? inputOptions = null;
            if (inputPath is null)
            {
                long bits;
                try { bits = BitrateText.Parse(parse.GetValue(bitrate)!); }
                catch (FormatException e) { throw new UserFacingException("--bitrate: " + e.Message, e); }
                var layout = parse.GetValue(subgroups) switch
                {
                    "per-layer" => SubgroupLayout.PerLayer,
                    "per-group" => SubgroupLayout.PerGroup,
                    var other => throw new UserFacingException($"--subgroups {other}: expected per-layer or per-group"),
                };
                try
                {
                    synthetic = new SyntheticTrack(new SyntheticTrackOptions
                    {
                        BitrateBitsPerSecond = bits, FramesPerSecond = parse.GetValue(fps), GopFrames = parse.GetValue(gop),
                        KeyFrameRatio = parse.GetValue(keyRatio), Layout = layout, Layers = parse.GetValue(layers),
                        KeyPriority = priority, LayerPriorityStep = step, FirstGroup = parse.GetValue(firstGroup),
                    });
                }
                catch (ArgumentException e) { throw new UserFacingException(e.Message, e); }
                seconds ??= 10;
            }
            else
            {
                InputFraming inputFraming;
                try { inputFraming = InputFraming.Parse(parse.GetValue(framing)!); }
                catch (FormatException e) { throw new UserFacingException("--framing: " + e.Message, e); }
                if (parse.GetValue(gop) < 1) throw new UserFacingException("--gop must be ≥ 1");
                if (parse.GetValue(inputRate) is { } r && !(r > 0)) throw new UserFacingException("--input-rate must be > 0 objects/s");
                if (inputPath != "-" && !File.Exists(inputPath)) throw new UserFacingException($"--input {inputPath} does not exist");
                inputOptions = new InputPublishOptions
                {
                    Framing = inputFraming, ObjectsPerGroup = parse.GetValue(gop), Priority = priority, Stamp = parse.GetValue(stamp),
                    ObjectsPerSecond = parse.GetValue(inputRate), FirstGroup = parse.GetValue(firstGroup),
                };
            }
            var limits = new PublishLimits(seconds is { } run ? TimeSpan.FromSeconds(run) : null, parse.GetValue(count));

            using var logs = common.Logging.Create(parse, Microsoft.Extensions.Logging.LogLevel.Warning);
            // SIGTERM / Ctrl+C end the run as its own end would: the report, then the session closed (the relay frees its state).
            using var stop = StopSignals.Link(cancellationToken);
            var endpoint = common.Endpoint(parse, logs);
            var track = common.TrackName(parse);
            await using var publisher = await Connect(() => env.Connector(logs).PublishAsync(endpoint, track, stop.Token), endpoint);
            if (parse.GetValue(waitForSubscriber))
                await Task.WhenAny(publisher.FirstSubscription, publisher.Closed).WaitAsync(stop.Token);
            if (delaySeconds > 0) await Task.Delay(TimeSpan.FromSeconds(delaySeconds), env.Time, stop.Token);

            MoqPublisherReport report;
            if (synthetic is not null)
                report = await SyntheticPublisher.RunAsync(publisher, synthetic, limits, endpoint.Url.ToString(), track.ToString(), env.Time, stop.Token);
            else
            {
                await using var stream = inputPath == "-" ? env.OpenStandardInput() : File.OpenRead(inputPath!);
                try
                {
                    report = await InputPublisher.RunAsync(publisher, stream, inputOptions!, limits, endpoint.Url.ToString(), track.ToString(), env.Time, stop.Token);
                }
                catch (InvalidDataException e)
                {
                    throw new UserFacingException($"--input {inputPath} (--framing {inputOptions!.Framing}): {e.Message}", e);
                }
            }
            Output(env, report.ToSummary(), report.ToJson(), parse.GetValue(common.Json));
            if (report.StoppedBecause is { } why)
            {
                env.Error.WriteLine($"fastrelay: publishing stopped early: {why}");
                return IncompleteExitCode;
            }
            return 0;
        }));
        return SteadyStateRuntime.Mark(command); // carries traffic: tiered compilation off (docs/startup.md)
    }

    private static Command CreateSubscribe(MoqCommandEnvironment env)
    {
        var common = new EndpointOptions();
        var start = new Option<string>("--start") { Description = "Where the subscription starts: latest (after the largest object), next-group, or absolute G/O.", DefaultValueFactory = _ => "latest" };
        var fetch = new Option<ulong>("--fetch") { Description = "Also send a joining FETCH for N groups up to the start, the current one included (1: the current group from its first object).", DefaultValueFactory = _ => 0 };
        var priority = new Option<int>("--priority") { Description = "Subscriber priority (0 most urgent .. 255).", DefaultValueFactory = _ => 128 };
        var duration = new Option<double?>("--duration", "-d") { Description = "Seconds to run (default: until the track ends, --expect objects arrived, or Ctrl+C)." };
        var expect = new Option<long?>("--expect") { Description = $"Stop once N objects arrived intact; exit {IncompleteExitCode} if fewer did." };
        var output = new Option<string?>("--output", "-o") { Description = "Write every object's payload, in arrival order, to FILE or stdout with '-' (the test header is removed from stamped objects)." };

        var command = new Command("subscribe", "Subscribe to a track: checks each object's integrity and order, reports one-way latency percentiles, gaps and duplicates.");
        common.AddTo(command);
        foreach (var option in new Option[] { start, fetch, priority, duration, expect, output })
            command.Add(option);

        command.SetAction((parse, cancellationToken) => Guard(env, async () =>
        {
            SubscriptionStart startAt;
            try { startAt = SubscriptionStart.Parse(parse.GetValue(start)!); }
            catch (FormatException e) { throw new UserFacingException("--start: " + e.Message, e); }
            var seconds = parse.GetValue(duration);
            if (seconds is { } s && !(s > 0)) throw new UserFacingException("--duration must be > 0 seconds");
            if (parse.GetValue(expect) is { } e0 && e0 < 1) throw new UserFacingException("--expect must be ≥ 1");
            var subscriberPriority = parse.GetValue(priority) is var p and >= 0 and <= 255 ? (byte)p : throw new UserFacingException("--priority must be 0..255");
            var outputPath = parse.GetValue(output);
            if (outputPath == "-" && parse.GetValue(common.Json) == "-")
                throw new UserFacingException("--output - and --json - cannot both use stdout");

            using var logs = common.Logging.Create(parse, Microsoft.Extensions.Logging.LogLevel.Warning);
            // SIGTERM / Ctrl+C end the run as its own end would: the report, then the session closed (the relay frees its state).
            using var stop = StopSignals.Link(cancellationToken);
            var endpoint = common.Endpoint(parse, logs);
            var track = common.TrackName(parse);
            var options = new MoqSubscribeOptions { Start = startAt, JoiningFetchGroups = parse.GetValue(fetch), SubscriberPriority = subscriberPriority };
            await using var sink = OpenOutput(outputPath);
            await using var subscription = await Connect(() => env.Connector(logs).SubscribeAsync(endpoint, track, options, stop.Token), endpoint);
            var report = await TrackSubscriber.RunAsync(subscription, new SubscribeLimits(seconds is { } run ? TimeSpan.FromSeconds(run) : null, parse.GetValue(expect)),
                endpoint.Url.ToString(), track.ToString(), startAt + (options.JoiningFetchGroups > 0 ? $" + fetch {options.JoiningFetchGroups}" : ""),
                env.Time, stop.Token, sink is null ? null : (o, verdict) => WritePayload(sink, o, verdict));
            Output(env, report.ToSummary(), report.ToJson(), parse.GetValue(common.Json), summaryToError: outputPath == "-");
            if (report.IntegrityFailures > 0)
            {
                env.Error.WriteLine($"fastrelay: {report.IntegrityFailures} object(s) failed integrity checks");
                return IntegrityFailureExitCode;
            }
            if (!report.ExpectationMet)
            {
                env.Error.WriteLine($"fastrelay: expected {report.Expected} objects, {report.Verified + report.Unstamped} arrived" + (report.EndedBecause is { } why ? $" ({why})" : ""));
                return IncompleteExitCode;
            }
            return 0;
        }));
        return SteadyStateRuntime.Mark(command); // carries traffic: tiered compilation off (docs/startup.md)
    }

    private static Stream? OpenOutput(string? path)
    {
        if (path is null) return null;
        if (path == "-") return Console.OpenStandardOutput();
        try { return File.Create(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new UserFacingException($"--output {path}: {e.Message}", e); }
    }

    private static void WritePayload(Stream sink, in ReceivedObject received, ObjectVerdict verdict)
    {
        var payload = received.Payload.Span;
        if (verdict is ObjectVerdict.Duplicate) return;
        if (verdict is ObjectVerdict.Ok) payload = payload[ObjectPayloadHeader.Size..];
        sink.Write(payload);
    }

    /// <summary>Connection failures are the user's to fix (wrong port, relay down, refused token): one clear line.</summary>
    private static async Task<T> Connect<T>(Func<Task<T>> connect, MoqClientEndpoint endpoint)
    {
        try
        {
            return await connect();
        }
        catch (Exception e) when (e is not (OperationCanceledException or UserFacingException) && e is IOException or SocketException or TimeoutException or InvalidOperationException or MoqClientException)
        {
            throw new UserFacingException($"cannot reach {endpoint.Url}: {e.Message}", e);
        }
    }

    /// <summary>Summary to stdout (stderr when the JSON or payloads go to stdout), JSON to FILE or stdout.</summary>
    private static void Output(MoqCommandEnvironment env, string summary, string json, string? jsonTarget, bool summaryToError = false)
    {
        if (jsonTarget == "-")
        {
            env.Error.WriteLine(summary);
            env.Out.WriteLine(json);
            return;
        }
        (summaryToError ? env.Error : env.Out).WriteLine(summary);
        if (jsonTarget is null) return;
        try
        {
            File.WriteAllText(jsonTarget, json + Environment.NewLine);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"--json {jsonTarget}: {e.Message}", e);
        }
    }

    private static async Task<int> Guard(MoqCommandEnvironment env, Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (UserFacingException e)
        {
            env.Error.WriteLine("fastrelay: " + e.Message);
            return 1;
        }
    }
}
