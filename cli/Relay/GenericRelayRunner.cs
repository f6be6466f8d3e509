using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using FastRelay.Cli.Gen;
using FastRelay.Generated;
using FastRelay.Relay;
using FastRelay.Relay.Retransmission;
using Microsoft.Extensions.Logging;

namespace FastRelay.Cli.Relay;

/// <summary>`fastrelay relay --assembly/--project`: which descriptor, where its kernel object comes from, and the
/// configuration file that lists channels and subscribers.</summary>
public sealed record GenericRelayOptions
{
    /// <summary>Built assemblies holding descriptors (--assembly).</summary>
    public IReadOnlyList<string> Assemblies { get; init; } = [];

    /// <summary>Projects to build first (--project), as `fastrelay gen --project` does.</summary>
    public IReadOnlyList<string> Projects { get; init; } = [];

    /// <summary>The descriptor's protocol name (--protocol); may be left out when the assemblies hold exactly one.</summary>
    public string? Protocol { get; init; }

    /// <summary>The file with "channels" (and the command's options); reloaded on change and on SIGHUP.</summary>
    public string? ConfigPath { get; init; }

    /// <summary>UDP port to relay; null = the descriptor's UdpPort.</summary>
    public int? Port { get; init; }

    /// <summary>Instance name (pins, status file); null = the protocol's name.</summary>
    public string? Name { get; init; }

    /// <summary>FastPath: copies made by the kernel; Userspace: by this process (no eBPF needed).</summary>
    public RelayMode Mode { get; init; } = RelayMode.FastPath;
    public IReadOnlyList<string>? Interfaces { get; init; }
    public string? ObjectPath { get; init; }
    public string BpfFsRoot { get; init; } = FastRelay.Bpf.BpfFs.DefaultRoot;
    public string TemplatesDir { get; init; } = GenPipeline.DefaultTemplatesDir;

    /// <summary>Where the status snapshot goes (read by `fastrelay status`); null = <see cref="StatusDirectory"/>/NAME.json.</summary>
    public string? StatusFile { get; init; }

    /// <summary>Folder of status files when <see cref="StatusFile"/> is not given; null = no status file.</summary>
    public string? StatusDirectory { get; init; }

    /// <summary>Where the control API listens (--control: PORT, HOST:PORT, [IPv6]:PORT); null = no control API.</summary>
    public string? ControlAddress { get; init; }

    /// <summary>The control API's token (--control-token-file); null = a new random token written (0600) to
    /// <see cref="ControlTokenPath"/>.</summary>
    public string? ControlTokenFile { get; init; }

    /// <summary>Where a generated control token goes: beside the status file, NAME.control-token.</summary>
    public string? ControlTokenPath => StatusFile is { } status ? Path.ChangeExtension(status, ".control-token") : null;

    /// <summary>How often the configuration file's timestamp is checked besides the change notification (which some
    /// editors' rename-over and network file systems do not raise).</summary>
    public TimeSpan ReloadPoll { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Runs the generic relay host for a user's descriptor: finds the protocol, generates (or checks) its kernel object,
/// attaches it with <see cref="FastPathHost"/>, fills the fan-out maps from the configuration file with
/// <see cref="RelayHost"/>, and keeps them equal to the file while it runs. The relay port's socket is bound so that
/// originals the kernel passes up (and packets it does not forward) are absorbed instead of drawing ICMP errors back to
/// the publisher.
/// </summary>
public static class GenericRelayRunner
{
    /// <summary>The one protocol the options name, from the assemblies and projects given.</summary>
    public static async Task<GeneratedProtocol> ResolveProtocolAsync(GenericRelayOptions options, CancellationToken cancellationToken)
    {
        var found = new List<GeneratedProtocol>();
        foreach (var project in options.Projects)
            found.AddRange(ProtocolCatalog.FromAssembly(await ProjectBuilder.BuildAsync(project, cancellationToken)));
        foreach (var assembly in options.Assemblies)
            found.AddRange(ProtocolCatalog.FromAssembly(assembly));
        if (found.Count == 0)
            throw new UserFacingException("no descriptor to relay: pass --assembly X.dll or --project X.csproj");
        var names = string.Join(", ", found.Select(p => p.Name));
        if (options.Protocol is null)
            return found.Count == 1 ? found[0] : throw new UserFacingException($"several descriptors found ({names}): choose one with --protocol NAME");
        return found.FirstOrDefault(p => string.Equals(p.Name, options.Protocol, StringComparison.OrdinalIgnoreCase))
               ?? throw new UserFacingException($"no descriptor named '{options.Protocol}' (found: {names})");
    }

    public static async Task RunAsync(GenericRelayOptions options, ILoggerFactory logs, CancellationToken cancellationToken)
    {
        var log = logs.CreateLogger("fastrelay.relay");
        var protocol = await ResolveProtocolAsync(options, cancellationToken);
        var instance = options.Name ?? protocol.Name;
        options = options with
        {
            Name = instance,
            StatusFile = options.StatusFile ?? (options.StatusDirectory is { } directory ? Path.Combine(directory, instance + ".json") : null),
        };
        var features = ProtocolFeatures.Of(protocol);
        if (RelayHost.Unsupported(features) is { } why)
            throw new UserFacingException($"the generic relay cannot serve {protocol.Name} ({protocol.DescriptorType}): {why}");
        var port = options.Port ?? protocol.UdpPort;
        var controlToken = options.ControlAddress is null ? null
            : options.ControlTokenFile is { } tokenFile ? RelayControlApi.ReadTokenFile(tokenFile, "--control-token-file")
            : options.ControlTokenPath is null ? throw new UserFacingException("--control without --control-token-file needs a status file to write the token beside")
            : RelayControlApi.NewToken();
        // The configuration is read before anything touches the kernel: a mistake in it stops here, naming the key.
        var plan = options.ConfigPath is { } configPath ? RelayConfigFile.Load(configPath, features) : RelayPlan.Empty;
        if (options.ConfigPath is null)
            log.LogWarning("no --config: the relay has no channels and forwards nothing");
        // Subscribers the control API added in an earlier run, kept beside the configuration file (read now: a state file
        // that cannot be read stops the relay before it touches the kernel).
        var apiState = options.ConfigPath is { } config ? new ApiSubscriberState(ApiSubscriberState.PathFor(config), features) : null;
        var saved = apiState?.Load() ?? new Dictionary<ulong, IReadOnlyList<SubscriberPlan>>();
        var retransmission = options.ConfigPath is { } retransmissionConfig ? RetransmissionConfig.Load(retransmissionConfig, features) : null;
        if (retransmission is not null && retransmission.Port == port)
            throw new UserFacingException($"{options.ConfigPath}: retransmission.port: {port} is the relay's own port; requests need a port of their own");

        using var socket = OpenSocket(port);
        using var requestSocket = retransmission is null ? null : OpenSocket(retransmission.Port, "choose another retransmission.port");
        var fields = DescriptorFields.Of(ProtocolCatalog.DescriptorType(protocol));
        // Assigned once the host exists: the service reads the running plan (channels, senders, subscribers) per request.
        RelayHost? planSource = null;
        var service = retransmission is null ? null
            : new RetransmissionService(retransmission.Format, fields, () => planSource?.Plan ?? RelayPlan.Empty, retransmission.Options, protocol.MaxChannels, log);
        FastPathHost? fastPath = null;
        string? builtDirectory = null;
        RelayHost host;
        var absorbed = new AbsorbedCounter();
        Thread receiver;
        if (options.Mode == RelayMode.FastPath)
        {
            string objectPath;
            if (options.ObjectPath is { } given)
            {
                RelayObjects.EnsureBuiltFor(protocol, given);
                objectPath = given;
            }
            else
            {
                objectPath = await GenPipeline.BuildForRelayAsync(protocol, instance, options.TemplatesDir, cancellationToken);
                builtDirectory = Path.GetDirectoryName(objectPath);
            }
            fastPath = FastPathHost.Start(new FastPathHostOptions(protocol, objectPath, instance, options.Interfaces, options.BpfFsRoot), log);
            try
            {
                host = new RelayHost(fastPath.Object, protocol, (ushort)port, log);
            }
            catch
            {
                fastPath.Dispose(); // detach what was attached before the failure
                throw;
            }
            receiver = new Thread(() => Absorb(socket, absorbed, service, cancellationToken)) { IsBackground = true, Name = "fastrelay-absorb" };
        }
        else
        {
            // The same host over this process's own copy loop: the descriptor's fields come from its attributes.
            var plane = new UserspaceFanOut(fields, protocol.MaxSubscribers);
            if (service is not null)
                plane.OnAccepted = service.RecordForwarded;
            host = new RelayHost(plane, protocol, (ushort)port, log, (slot, channel, sub, _) =>
                new KernelSubscriber(slot, channel, sub.Address, new IPEndPoint(IPAddress.IPv6Any, port), 0, new byte[6], new byte[6], sub.ConnectionId));
            receiver = new Thread(() => plane.Run(socket, cancellationToken)) { IsBackground = true, Name = "fastrelay-userspace" };
        }
        using var disposeHost = host;
        using var disposeFastPath = fastPath;
        planSource = host;
        receiver.Start();
        var requests = service is null ? null
            : new Thread(() => service.Run(requestSocket!, cancellationToken)) { IsBackground = true, Name = "fastrelay-retransmit" };
        requests?.Start();
        if (service is not null)
            log.LogInformation("retransmission ({Format}) answers requests on UDP {Port} from the last {Packets} packets of each channel",
                service.Format.Name, retransmission!.Port, retransmission.Options.PacketsPerChannel);

        var sources = new RelayPlanSources(host, apiState is null ? null : added => SaveApiState(apiState, added, log));
        sources.ApplyFile(plan, out _, cancellationToken);
        if (saved.Count > 0)
        {
            var restored = sources.Restore(saved, out var notRestored, cancellationToken);
            foreach (var note in notRestored)
                log.LogWarning("{Note}", note);
            log.LogInformation("control API subscribers restored from {StateFile}: {Change}", apiState!.Path, restored);
        }
        var status = new GenericRelayStatusWriter(options, protocol, fastPath, sources, absorbed);
        if (service is not null)
            status.Retransmission = (service, retransmission!.Port);
        await using var control = controlToken is null ? null : RelayControlApi.Start(options.ControlAddress!, controlToken, sources, status.Snapshot, log);
        var writtenToken = control is not null && options.ControlTokenFile is null ? options.ControlTokenPath : null;
        if (control is not null)
        {
            if (writtenToken is not null)
            {
                RelayControlApi.WriteTokenFile(writtenToken, controlToken!);
                log.LogInformation("control API token written to {TokenFile} (mode 0600)", writtenToken);
            }
            status.Control = new GenericControlStatus(control.Url, Path.GetFullPath(writtenToken ?? options.ControlTokenFile!));
        }
        log.LogInformation("relay {Name} ({Protocol}, {Mode}) listening on UDP {Port}: {Channels} channels, {Subscribers} subscribers, sequence numbers {Sequence}",
            instance, protocol.Name, host.Plane.Mode, port, plan.Channels.Count, plan.Channels.Sum(c => c.Subscribers.Count),
            features.SequenceDescription);

        using var reload = options.ConfigPath is { } path ? new ConfigWatcher(path, options.ReloadPoll) : null;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (reload is not null && await reload.WaitAsync(TimeSpan.FromMilliseconds(200), cancellationToken))
                {
                    Reload(reload.Path, features, sources, log, cancellationToken);
                    WarnIfRetransmissionChanged(reload.Path, features, retransmission, log);
                }
                else if (reload is null)
                    await PauseAsync(cancellationToken);
                host.Tick(cancellationToken);
                status.WriteIfDue();
            }
        }
        finally
        {
            status.Remove();
            if (writtenToken is not null)
                File.Delete(writtenToken); // a generated token is good for this run only
            socket.Close();
            requestSocket?.Close();
            receiver.Join(TimeSpan.FromSeconds(1));
            requests?.Join(TimeSpan.FromSeconds(1));
            // The object this instance built for itself is loaded; its build folder has served its purpose.
            if (builtDirectory is not null)
                Directory.Delete(builtDirectory, recursive: true);
        }
    }

    /// <summary>A state file that cannot be written does not stop the relay: the change is in force, it just would not
    /// survive a restart, and the log says so.</summary>
    private static void SaveApiState(ApiSubscriberState state, IReadOnlyDictionary<ulong, IReadOnlyList<SubscriberPlan>> added, ILogger log)
    {
        try
        {
            state.Save(added);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.LogError("control API subscribers not saved to {StateFile} (they are in force, but a restart would lose them): {Problem}", state.Path, e.Message);
        }
    }

    private static async Task PauseAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(200, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A new configuration replaces the running one only when it is valid as a whole; otherwise the relay keeps
    /// serving the previous one and says why.</summary>
    private static void Reload(string path, ProtocolFeatures features, RelayPlanSources sources, ILogger log, CancellationToken cancellationToken)
    {
        RelayPlan plan;
        try
        {
            plan = RelayConfigFile.Load(path, features);
        }
        catch (UserFacingException e)
        {
            log.LogError("configuration not reloaded, the previous one stays in force: {Problem}", e.Message);
            return;
        }
        PlanChange change;
        IReadOnlyList<string> dropped;
        try
        {
            change = sources.ApplyFile(plan, out dropped, cancellationToken);
        }
        catch (ArgumentException e)
        {
            log.LogError("configuration not reloaded, the previous one stays in force: {Path}: {Problem}", path, e.Message);
            return;
        }
        foreach (var note in dropped)
            log.LogWarning("control API subscriber dropped by the reload: {Note}", note);
        log.LogInformation("configuration reloaded from {Path}: {Change}", path, change);
    }

    /// <summary>The retransmission section is read at start only (its port is bound, its history sized): a changed one is
    /// not applied, and the log says so instead of leaving the operator to think it was.</summary>
    private static void WarnIfRetransmissionChanged(string path, ProtocolFeatures features, RetransmissionConfig? running, ILogger log)
    {
        RetransmissionConfig? now;
        try
        {
            now = RetransmissionConfig.Load(path, features);
        }
        catch (UserFacingException e)
        {
            log.LogWarning("the retransmission section has a mistake (it is read at start only; the running one stays): {Problem}", e.Message);
            return;
        }
        if (now?.Format.Name != running?.Format.Name || now?.Port != running?.Port || now?.Options != running?.Options)
            log.LogWarning("the retransmission section changed in {Path}: it is read at start only, restart the relay to apply it", path);
    }

    private static Socket OpenSocket(int port, string hint = "another relay? choose --port")
    {
        var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true, ReceiveTimeout = 200 };
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new UserFacingException($"UDP port {port} is taken: {e.Message} ({hint})", e);
        }
        return socket;
    }

    /// <summary>Counts and drops what reaches the relay's socket: originals of fanned-out packets (the kernel passes them
    /// up) and packets the kernel did not forward (no match, no channel, a sender not allowed).
    /// With retransmission on, the originals are offered to its history (which keeps only what the kernel forwarded).</summary>
    private static void Absorb(Socket socket, AbsorbedCounter counter, RetransmissionService? service, CancellationToken cancellationToken)
    {
        var buffer = new byte[65536];
        EndPoint from = new IPEndPoint(IPAddress.IPv6Any, 0);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var length = socket.ReceiveFrom(buffer, ref from);
                Interlocked.Increment(ref counter.Packets);
                service?.OfferUpstream(buffer.AsSpan(0, length), (IPEndPoint)from);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock or SocketError.ConnectionReset or SocketError.Interrupted)
            {
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                return;
            }
        }
    }
}

/// <summary>Packets that reached the relay's own socket.</summary>
public sealed class AbsorbedCounter
{
    public long Packets;
}

/// <summary>Signals a configuration reload: the file changed (notification or a changed timestamp), or SIGHUP.</summary>
public sealed class ConfigWatcher : IDisposable
{
    private readonly SemaphoreSlim _signal = new(0);
    private readonly FileSystemWatcher _watcher;
    private readonly PosixSignalRegistration _hangup;
    private readonly TimeSpan _poll;
    private DateTime _lastWrite;
    private DateTime _lastPoll = DateTime.UtcNow;

    public ConfigWatcher(string path, TimeSpan poll)
    {
        Path = System.IO.Path.GetFullPath(path);
        _poll = poll;
        _lastWrite = File.GetLastWriteTimeUtc(Path);
        _watcher = new FileSystemWatcher(System.IO.Path.GetDirectoryName(Path)!, System.IO.Path.GetFileName(Path))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size,
        };
        _watcher.Changed += (_, _) => Release();
        _watcher.Created += (_, _) => Release();
        _watcher.Renamed += (_, _) => Release();
        _watcher.EnableRaisingEvents = true;
        _hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true; // SIGHUP means "reload", not "terminate"
            Release();
        });
    }

    public string Path { get; }

    private void Release()
    {
        if (_signal.CurrentCount == 0)
            _signal.Release();
    }

    /// <summary>True when a reload is due. Notifications come in bursts while an editor writes: a short settle time
    /// lets the burst end so the file is read once, whole.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var signalled = false;
        try
        {
            signalled = await _signal.WaitAsync(timeout, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        if (!signalled && DateTime.UtcNow - _lastPoll >= _poll)
        {
            _lastPoll = DateTime.UtcNow;
            signalled = File.Exists(Path) && File.GetLastWriteTimeUtc(Path) != _lastWrite;
        }
        if (!signalled)
            return false;
        await Task.Delay(50, CancellationToken.None);
        while (_signal.CurrentCount > 0)
            _signal.Wait(0);
        _lastWrite = File.Exists(Path) ? File.GetLastWriteTimeUtc(Path) : _lastWrite;
        return true;
    }

    public void Dispose()
    {
        _hangup.Dispose();
        _watcher.Dispose();
        _signal.Dispose();
    }
}
