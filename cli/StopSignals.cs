using System.Runtime.InteropServices;

namespace FastRelay.Cli;

/// <summary>
/// SIGTERM and SIGINT (Ctrl+C) as a cancellation of <see cref="Token"/> (linked to the command's own token), for the
/// commands that carry traffic and end cleanly when their token is cancelled: a relay detaches its programs and removes
/// its pins, a MoQ client closes its session and prints its report, and the relay it talked to frees what it held for it
/// at once rather than after the idle timeout. Without a registration the runtime's default ends the process on the
/// spot: a `moq subscribe` sent SIGTERM left in 11 ms with no report, and its relay kept the subscriber's kernel slot
/// for the 30 s idle timeout.
/// </summary>
public sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly PosixSignalRegistration _terminate;
    private readonly PosixSignalRegistration _interrupt;

    private StopSignals(CancellationToken commandToken)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(commandToken);
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
    }

    /// <summary>Cancelled by SIGTERM, SIGINT, or <paramref name="commandToken"/>.</summary>
    public static StopSignals Link(CancellationToken commandToken) => new(commandToken);

    public CancellationToken Token => _stop.Token;

    public bool IsCancellationRequested => _stop.IsCancellationRequested;

    private void Stop(PosixSignalContext context)
    {
        context.Cancel = true; // the process ends when the command has, not now
        try { _stop.Cancel(); }
        catch (ObjectDisposedException) { }
    }

    public void Dispose()
    {
        _terminate.Dispose();
        _interrupt.Dispose();
        _stop.Dispose();
    }
}
