using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using FastRelay.Cli.Commands;
using FastRelay.Protocols.Quic.Tls.Certificates;

namespace FastRelay.Tests.Quic.Interop;

/// <summary>
/// One interop scenario's resources: a temp directory (htdocs, downloads, certificate) removed at the end, free
/// UDP ports on 127.0.0.1, and every process it started — killed (whole tree) on dispose even when the test failed,
/// with all their output kept for the failure message.
/// </summary>
public sealed class InteropHarness : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);
    private readonly List<InteropProcess> _processes = [];

    public InteropHarness()
    {
        Directory.CreateDirectory(Htdocs);
        Directory.CreateDirectory(Downloads);
        using var certificate = SelfSignedCertificate.Create();
        Directory.CreateDirectory(Path.Combine(Root, "tls"));
        CertificatePath = Path.Combine(Root, "tls", "cert.pem");
        KeyPath = Path.Combine(Root, "tls", "key.pem");
        SelfSignedCertificate.ExportPem(certificate, CertificatePath, KeyPath);
    }

    public string Root { get; } = Directory.CreateTempSubdirectory("fastrelay-interop-").FullName;
    public string Htdocs => Path.Combine(Root, "htdocs");
    public string Downloads => Path.Combine(Root, "downloads");
    public string CertificatePath { get; }
    public string KeyPath { get; }

    /// <summary>The CLI the tests run as a process: the fastrelay.dll the test project references.</summary>
    public static string FastRelayDll => typeof(QuicCommand).Assembly.Location;

    /// <summary>A UDP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).</summary>
    public static int FreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>Writes a file of seeded random bytes under htdocs and returns its content.</summary>
    public byte[] CreateFile(string name, int length, int seed = 1)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        File.WriteAllBytes(Path.Combine(Htdocs, name), data);
        return data;
    }

    public InteropProcess Start(string file, params string[] arguments)
    {
        var process = InteropProcess.Start(file, arguments, Root);
        lock (_processes)
            _processes.Add(process);
        return process;
    }

    public InteropProcess StartGtlsServer(int port, params string[] options) =>
        Start(Ngtcp2Tools.RequireServer, [.. options, "-d", Htdocs, "127.0.0.1", port.ToString(), KeyPath, CertificatePath]);

    public InteropProcess StartGtlsClient(int port, string[] options, params string[] paths) =>
        Start(Ngtcp2Tools.RequireClient, [.. options, "--exit-on-all-streams-close", "--download", Downloads, "127.0.0.1", port.ToString(),
            .. paths.Select(p => $"https://127.0.0.1:{port}{p}")]);

    public InteropProcess StartFastRelay(params string[] arguments) => Start("dotnet", [FastRelayDll, .. arguments]);

    /// <summary>Waits until something has bound the UDP port on 127.0.0.1 (a server with -q prints nothing).</summary>
    public static async Task WaitForUdpListenerAsync(int port, InteropProcess server, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (server.HasExited)
                throw new InvalidOperationException($"server exited during start-up (code {server.ExitCode}):\n{server.Output}");
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                return;
            }
            probe.Close();
            await Task.Delay(50);
        }
        throw new TimeoutException($"nothing listened on UDP {port} within {timeout}:\n{server.Output}");
    }

    public static void AssertSameFile(byte[] expected, string path, string context)
    {
        if (!File.Exists(path))
            throw new Xunit.Sdk.XunitException($"{path} was not written\n{context}");
        var actual = File.ReadAllBytes(path);
        if (!SHA256.HashData(actual).AsSpan().SequenceEqual(SHA256.HashData(expected)))
            throw new Xunit.Sdk.XunitException($"{path}: {actual.Length} bytes, expected {expected.Length} identical bytes\n{context}");
    }

    /// <summary>Everything every process printed, for failure messages.</summary>
    public string Transcript()
    {
        var text = new StringBuilder();
        lock (_processes)
            foreach (var process in _processes)
                text.AppendLine($"=== {process.CommandLine} (exit {(process.HasExited ? process.ExitCode.ToString() : "running")})").AppendLine(Tail(process.Output));
        return text.ToString();
    }

    private static string Tail(string text) => text.Length <= 8000 ? text : "...\n" + text[^8000..];

    public async ValueTask DisposeAsync()
    {
        List<InteropProcess> processes;
        lock (_processes)
            processes = [.. _processes];
        foreach (var process in processes)
            await process.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A killed process may still be releasing a file; the temp directory is then left for the OS to reap.
        }
    }
}

/// <summary>A child process with stdout+stderr captured, a bounded wait, and a kill of its whole tree on dispose.</summary>
public sealed class InteropProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private InteropProcess(Process process, string commandLine)
    {
        _process = process;
        CommandLine = commandLine;
    }

    public string CommandLine { get; }
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;
    public int Id => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    public static InteropProcess Start(string file, IEnumerable<string> arguments, string workingDirectory)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in arguments)
            psi.ArgumentList.Add(argument);
        var process = new Process { StartInfo = psi };
        var wrapper = new InteropProcess(process, file + " " + string.Join(' ', psi.ArgumentList));
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (wrapper._output) wrapper._output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (wrapper._output) wrapper._output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return wrapper;
    }

    /// <summary>Waits for exit; on timeout kills the process and throws with its output.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"{CommandLine} did not finish within {timeout}:\n{Output}");
        }
        _process.WaitForExit(); // drains the asynchronous output readers
        return _process.ExitCode;
    }

    /// <summary>Waits until the output contains <paramref name="text"/> (e.g. "listening on").</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (HasExited)
                throw new InvalidOperationException($"{CommandLine} exited (code {ExitCode}) before printing '{text}':\n{Output}");
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{CommandLine} did not print '{text}' within {timeout}:\n{Output}");
            await Task.Delay(50);
        }
    }

    /// <summary>SIGTERM (graceful), then a kill after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (HasExited)
            return;
        FastRelay.Cli.Scenario.ProcessSignals.Terminate(_process.Id);
        using var cts = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
        }
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Exited in between.
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        try
        {
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
        }
        _process.Dispose();
    }
}
