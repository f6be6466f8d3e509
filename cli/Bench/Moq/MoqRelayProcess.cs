using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CliWrap;
using FastRelay.Cli.Scenario;
using FastRelay.Protocols.Moq.Clients;

namespace FastRelay.Cli.Bench.Moq;

/// <summary>
/// A `fastrelay moq relay` child process on loopback: its CPU is its own (read from /proc), apart from the bench's
/// publisher and subscribers. Ready once its UDP port is bound (read from /proc/net/udp, so nothing depends on the
/// wording of its log); stopped with SIGTERM, then killed after 5 s.
/// </summary>
public sealed class MoqRelayProcess : IMoqBenchRelay
{
    private readonly CancellationTokenSource _forceful = new();
    private readonly StringBuilder _log = new();
    private CommandTask<CommandResult> _task = null!;
    private string _statusDirectory = "";

    private MoqRelayProcess(MoqUrl url) => Url = url;

    public MoqUrl Url { get; }
    public int? ProcessId => _task.ProcessId;
    public string Description => $"`fastrelay moq relay` process {_task.ProcessId}";

    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    /// <param name="extraArguments">Appended to `moq relay --port P` (e.g. certificate options).</param>
    /// <param name="cpu">Pin the relay to this CPU (taskset) when the machine has more than one.</param>
    public static async Task<MoqRelayProcess> StartAsync(IReadOnlyList<string> extraArguments, int? cpu, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var port = FreeUdpPort();
        var relay = new MoqRelayProcess(MoqUrl.Parse($"moqt://127.0.0.1:{port}/"));
        relay._statusDirectory = Path.Combine(Path.GetTempPath(), $"fastrelay-moq-bench-{Environment.ProcessId}");
        var log = relay._log;
        string[] launcher = cpu is { } c ? ["taskset", "-c", c.ToString(CultureInfo.InvariantCulture), "dotnet"] : ["dotnet"];
        relay._task = CliWrap.Cli.Wrap(launcher[0])
            .WithArguments([.. launcher[1..], RelayScenario.FastRelayDll, "moq", "relay", "--port", port.ToString(CultureInfo.InvariantCulture),
                // Its own status file, so a bench never overwrites (or is mistaken for) an operator's relay.
                "--name", $"bench-{Environment.ProcessId}", "--status-dir", relay._statusDirectory,
                .. extraArguments])
            .WithStandardOutputPipe(PipeTarget.ToDelegate(line => { lock (log) log.AppendLine(line); }))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(line => { lock (log) log.AppendLine(line); }))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(relay._forceful.Token);

        var deadline = DateTime.UtcNow + timeout;
        while (!UdpPortBound(port))
        {
            if (relay._task.Task.IsCompleted)
                throw new UserFacingException($"`fastrelay moq relay` exited during start-up:\n{relay.Log}");
            if (DateTime.UtcNow > deadline)
            {
                await relay.DisposeAsync();
                throw new UserFacingException($"`fastrelay moq relay` did not bind UDP port {port} within {timeout.TotalSeconds:0} s:\n{relay.Log}");
            }
            await Task.Delay(50, cancellationToken);
        }
        return relay;
    }

    public ProcessCpuTime ReadCpu() => ProcessCpuTime.Read(_task.ProcessId);

    public async ValueTask DisposeAsync()
    {
        if (!_task.Task.IsCompleted)
        {
            ProcessSignals.Terminate(_task.ProcessId);
            _forceful.CancelAfter(TimeSpan.FromSeconds(5));
            try
            {
                await _task;
            }
            catch (OperationCanceledException)
            {
            }
        }
        _forceful.Dispose();
        try { Directory.Delete(_statusDirectory, recursive: true); }
        catch (DirectoryNotFoundException) { }
        catch (IOException) { }
    }

    private static int FreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>Some socket, IPv4 or IPv6, has <paramref name="port"/> as its local UDP port.</summary>
    private static bool UdpPortBound(int port)
    {
        var hex = ":" + port.ToString("X4", CultureInfo.InvariantCulture) + " ";
        foreach (var table in new[] { "/proc/net/udp", "/proc/net/udp6" })
        {
            if (!File.Exists(table)) continue;
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                // "  sl  local_address rem_address ...": the local address is the second column.
                var columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (columns.Length > 1 && (columns[1] + " ").EndsWith(hex, StringComparison.Ordinal)) return true;
            }
        }
        return false;
    }
}
