using System.Text;
using System.Threading.Channels;
using CliWrap;
using FastRelay.Cli.Lab;

namespace FastRelay.Cli.Scenario;

/// <summary>
/// One `fastrelay moq …` process (`dotnet fastrelay.dll moq VERB …`) inside a lab host's network namespace, with its
/// stdout and stderr collected and, for a publisher, a stdin the caller feeds (length-prefixed objects). Disposing it
/// ends the process (SIGTERM, then kill after 10 s), so no process outlives its scenario or its lab. Used by the MoQ
/// demo and the MoQ lab tests.
/// </summary>
public sealed class MoqLabProcess : IAsyncDisposable
{
    private readonly StringBuilder _log = new();
    private readonly CancellationTokenSource _kill = new();
    private readonly Channel<byte[]>? _stdin;
    private CommandTask<CommandResult> _task = null!;

    private MoqLabProcess(string name, bool withStdin)
    {
        Name = name;
        if (withStdin)
            _stdin = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    }

    public string Name { get; }

    /// <summary>Starts `dotnet fastrelay.dll moq ARGS` in <paramref name="host"/>'s namespace.</summary>
    public static MoqLabProcess Start(LabNetwork lab, LabHost host, string name, IEnumerable<string> moqArgs, bool withStdin = false)
    {
        var process = new MoqLabProcess(name, withStdin);
        var log = process._log;
        var command = lab.Command(host, "dotnet", [RelayScenario.FastRelayDll, "moq", .. moqArgs])
            .WithStandardOutputPipe(PipeTarget.ToDelegate(line => { lock (log) log.AppendLine(line); }))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(line => { lock (log) log.AppendLine("[stderr] " + line); }))
            .WithValidation(CommandResultValidation.None);
        if (process._stdin is { } stdin)
        {
            command = command.WithStandardInputPipe(PipeSource.Create(async (destination, cancellationToken) =>
            {
                // Until the caller completes the feed: then stdin closes, which is the publisher's end of input.
                await foreach (var chunk in stdin.Reader.ReadAllAsync(cancellationToken))
                {
                    await destination.WriteAsync(chunk, cancellationToken);
                    await destination.FlushAsync(cancellationToken);
                }
            }));
        }
        process._task = command.ExecuteAsync(process._kill.Token);
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

    public bool HasExited => _task.Task.IsCompleted;

    /// <summary>Writes to the process's stdin (a publisher's --input -).</summary>
    public void Feed(byte[] bytes) => _stdin!.Writer.TryWrite(bytes);

    /// <summary>Closes stdin: end of input.</summary>
    public void EndFeed() => _stdin!.Writer.TryComplete();

    /// <summary>Waits until <paramref name="condition"/> holds for the log; fails with the log on timeout or when the
    /// process exits first.</summary>
    public async Task WaitForLogAsync(Func<string, bool> condition, string what, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition(Log))
        {
            if (HasExited && !condition(Log))
                throw new InvalidOperationException($"{Name} exited before {what}:\n{Log}");
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{Name}: no {what} within {timeout.TotalSeconds:0} s:\n{Log}");
            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>Waits for the process to exit by itself; kills it and fails with its log after <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            return (await _task.Task.WaitAsync(timeout)).ExitCode;
        }
        catch (TimeoutException)
        {
            await DisposeAsync();
            throw new TimeoutException($"{Name} did not exit within {timeout.TotalSeconds:0} s:\n{Log}");
        }
    }

    /// <summary>kill -9, and waits until the process is gone.</summary>
    public async Task KillAsync()
    {
        ProcessSignals.KillNow(_task.ProcessId);
        try { await _task.Task.WaitAsync(TimeSpan.FromSeconds(30)); }
        catch (OperationCanceledException) { }
    }

    /// <summary>SIGTERM (the relay's clean stop), then kill after 10 s. Returns the log.</summary>
    public async Task<string> StopAsync()
    {
        _stdin?.Writer.TryComplete();
        if (!_task.Task.IsCompleted)
        {
            try { ProcessSignals.Terminate(_task.ProcessId); }
            catch (InvalidOperationException) { /* not started */ }
        }
        _kill.CancelAfter(TimeSpan.FromSeconds(10));
        try { await _task; }
        catch (OperationCanceledException) { }
        return Log;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_task.Task.IsCompleted)
            await StopAsync();
        _kill.Dispose();
    }
}
