using System.Text;
using CliWrap;
using FastRelay.Cli.Lab;
using FastRelay.Cli.Relay;

namespace FastRelay.Cli.Scenario;

/// <summary>A `fastrelay relay` process in the lab's relay namespace, stopped with SIGTERM (it detaches and unpins).</summary>
public sealed class RelayProcess : IAsyncDisposable
{
    private readonly CancellationTokenSource _forceful = new();
    private readonly StringBuilder _log = new();
    private CommandTask<CommandResult> _task = null!;

    private RelayProcess()
    {
    }

    public static RelayProcess Start(LabNetwork lab, ScenarioOptions options, string bpffs) =>
        Start(lab, options.Mode, bpffs, options.RelayTimeoutSeconds, options.RelayMaxSubscribers);

    /// <param name="bpffs">A bpffs mounted in the root mount namespace (ip netns exec hides the relay's own /sys mounts),
    /// so tests and `bpftool` can read the relay's pinned maps.</param>
    /// <param name="cpu">Pin the relay to this CPU (taskset), as the benchmark does.</param>
    /// <param name="capabilities">Run with exactly these capabilities (e.g. "bpf", "perfmon", "net_admin") instead of full root:
    /// uid 0 without root's automatic capabilities (securebits noroot), the bounding set cut to these (setpriv).</param>
    public static RelayProcess Start(LabNetwork lab, RelayMode mode, string bpffs, double timeoutSeconds = 3, int? maxSubscribers = null, int? cpu = null,
        IReadOnlyList<string>? capabilities = null)
    {
        var process = new RelayProcess();
        var log = process._log;
        string[] launcher = cpu is { } c ? ["taskset", "-c", c.ToString(), "dotnet"] : ["dotnet"];
        if (capabilities is not null)
        {
            var set = "-all" + string.Concat(capabilities.Select(x => ",+" + x));
            launcher = ["setpriv", "--securebits", "+noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked",
                "--bounding-set", set, "--inh-caps", set, "--ambient-caps", set, "--", .. launcher];
        }
        process._task = lab.Command(lab.Relay, launcher[0],
            [
                .. launcher[1..], RelayScenario.FastRelayDll, "relay", "--name", lab.Prefix,
                "--mode", mode == RelayMode.FastPath ? "FastPath" : "Userspace",
                "--timeout", timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--bpffs", bpffs,
                .. (maxSubscribers is { } max ? new[] { "--max-subscribers", max.ToString() } : []),
            ])
            .WithStandardOutputPipe(PipeTarget.ToDelegate(line => { lock (log) log.AppendLine(line); }))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(line => { lock (log) log.AppendLine(line); }))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(process._forceful.Token);
        return process;
    }

    public int ProcessId => _task.ProcessId;

    public string Log
    {
        get
        {
            lock (_log)
                return _log.ToString();
        }
    }

    /// <summary>Waits until the relay logs that it listens, or fails with its log.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_task.Task.IsCompleted)
                throw new InvalidOperationException("the relay exited during start-up:\n" + Log);
            if (Log.Contains("listening on UDP"))
                return;
            await Task.Delay(50, cancellationToken);
        }
        throw new TimeoutException("the relay did not start listening in time:\n" + Log);
    }

    /// <summary>SIGTERM, then SIGKILL after 10 s. Returns everything the relay logged.</summary>
    public async Task<string> StopAsync()
    {
        // The relay handles SIGTERM by detaching and removing its pins.
        if (!_task.Task.IsCompleted)
            ProcessSignals.Terminate(_task.ProcessId);
        _forceful.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await _task;
        }
        catch (OperationCanceledException)
        {
        }
        return Log;
    }

    /// <summary>kill -9: no detach, no unpin (what a crash leaves behind).</summary>
    public async Task KillAsync()
    {
        _forceful.Cancel();
        try
        {
            await _task;
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_task.Task.IsCompleted)
            await StopAsync();
        _forceful.Dispose();
    }
}
