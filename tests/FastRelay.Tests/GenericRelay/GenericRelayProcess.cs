using System.Text;
using CliWrap;
using FastRelay.Cli.Lab;
using FastRelay.Cli.Scenario;
using FastRelay.Tests.Infrastructure;
using Xunit;

namespace FastRelay.Tests.GenericRelay;

/// <summary>`fastrelay relay` for a user's descriptor, as a process in the lab's relay namespace with its pins in the
/// lab's bpffs; stopped with SIGTERM (it detaches and unpins), killed if it does not stop.</summary>
public sealed class GenericRelayProcess : IAsyncDisposable
{
    private readonly StringBuilder _log = new();
    private readonly CancellationTokenSource _forceful = new();
    private readonly CommandTask<CommandResult> _task;

    private GenericRelayProcess(LabNetwork lab, IEnumerable<string> arguments)
    {
        _task = lab.Command(lab.Relay, "dotnet", [RelayScenario.FastRelayDll, "relay", .. arguments, "--name", lab.Prefix, "--bpffs", lab.BpfFsPath])
            .WithStandardOutputPipe(PipeTarget.ToDelegate(Append))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(Append))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(_forceful.Token);
    }

    /// <summary>Starts the relay (instance name: the lab's prefix) and waits until it listens.</summary>
    public static async Task<GenericRelayProcess> StartAsync(LabNetwork lab, params string[] arguments)
    {
        var relay = new GenericRelayProcess(lab, arguments);
        await Eventually.TrueAsync(() => relay.Log.Contains("listening on UDP") || relay._task.Task.IsCompleted, "relay ready", TimeSpan.FromSeconds(90));
        Assert.False(relay._task.Task.IsCompleted, "the relay exited:\n" + relay.Log);
        return relay;
    }

    public string Log
    {
        get
        {
            lock (_log)
                return _log.ToString();
        }
    }

    private void Append(string line)
    {
        lock (_log)
            _log.AppendLine(line);
    }

    /// <summary>SIGTERM, SIGKILL after 15 s; returns the relay's log.</summary>
    public async Task<string> StopAsync()
    {
        if (!_task.Task.IsCompleted)
            ProcessSignals.Terminate(_task.ProcessId);
        _forceful.CancelAfter(TimeSpan.FromSeconds(15));
        try
        {
            await _task;
        }
        catch (OperationCanceledException)
        {
        }
        return Log;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _forceful.Dispose();
    }
}
