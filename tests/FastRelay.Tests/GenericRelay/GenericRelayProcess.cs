using System.Net;
using System.Text;
using System.Text.Json;
using CliWrap.Buffered;
using FastRelay.Cli.Relay;
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

    /// <summary>Writes a configuration of one channel, its allowed sender and these receivers (named as they are).
    /// Written beside and renamed over, as editors do: the relay never reads half a file.</summary>
    public static void WriteConfig(string path, string sequence, ulong channel, IPEndPoint upstream, IEnumerable<UdpCollector> subscribers)
    {
        var json = JsonSerializer.Serialize(new
        {
            sequence,
            channels = new[]
            {
                new { id = channel, upstream = upstream.ToString(), subscribers = subscribers.Select(r => (object)new { address = r.Endpoint.ToString(), name = r.Name }).ToArray() },
            },
        });
        File.WriteAllText(path + ".new", json);
        File.Move(path + ".new", path, overwrite: true);
    }

    /// <summary>Waits until the relay's status file shows what <paramref name="condition"/> asks for; returns that status.</summary>
    public static async Task<GenericRelayStatus> WaitForStatusAsync(string statusFile, Func<GenericRelayStatus, bool> condition)
    {
        GenericRelayStatus? last = null;
        await Eventually.TrueAsync(() =>
        {
            try
            {
                last = GenericRelayStatus.FromJson(File.ReadAllText(statusFile));
            }
            catch (Exception e) when (e is IOException or JsonException)
            {
                return false;
            }
            return last is not null && condition(last);
        }, "the relay's status shows what the test waits for", TimeSpan.FromSeconds(20));
        return last!;
    }

    /// <summary>The subscriber endpoints in the pinned fr_sub_by_endpoint map, read with bpftool as an operator would.</summary>
    public static async Task<List<string>> SubscriberEndpointsInKernelAsync(LabNetwork lab, string instance)
    {
        var pin = Path.Combine(lab.BpfFsPath, "fastrelay", instance, "fr_sub_by_endpoint");
        var dump = await CliWrap.Cli.Wrap("bpftool").WithArguments(["-j", "map", "dump", "pinned", pin]).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        Assert.True(dump.ExitCode == 0, $"bpftool map dump {pin}: {dump.StandardError}");
        using var json = JsonDocument.Parse(dump.StandardOutput);
        var endpoints = new List<string>();
        foreach (var entry in json.RootElement.EnumerateArray())
        {
            var key = entry.GetProperty("key").EnumerateArray().Select(b => Convert.ToByte(b.GetString()!, 16)).ToArray();
            var port = (key[2] << 8) | key[3];
            var address = key[0] == 6 ? new IPAddress(key.AsSpan(4, 16)) : new IPAddress(key.AsSpan(4, 4));
            endpoints.Add(new IPEndPoint(address, port).ToString());
        }
        return endpoints;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _forceful.Dispose();
    }
}
