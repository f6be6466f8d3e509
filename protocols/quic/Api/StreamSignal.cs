using System.Threading.Tasks.Sources;

namespace FastRelay.Protocols.Quic.Api;

/// <summary>
/// A reusable wake-up for the one pending reader (or writer) of a stream: waiting costs no allocation, unlike a new
/// TaskCompletionSource per wait — a bulk writer waits once for every few ACKs. Arm and Set are called under the
/// connection lock (the caller re-checks its condition there before arming, so no wake-up is lost); the wait itself
/// completes off the lock (continuations run asynchronously).
/// </summary>
internal sealed class StreamSignal(object gate) : IValueTaskSource
{
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private bool _armed;
    private CancellationTokenRegistration _cancellation;

    /// <summary>Arms the signal (under the lock) and returns what to await (outside it).</summary>
    public ValueTask Arm(CancellationToken cancellationToken)
    {
        _core.Reset();
        _armed = true;
        if (cancellationToken.CanBeCanceled)
            _cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((StreamSignal)state!).Cancel(token), this);
        return new ValueTask(this, _core.Version);
    }

    /// <summary>Wakes the waiter, if one is armed (under the lock).</summary>
    public void Set()
    {
        if (!_armed) return;
        _armed = false;
        _core.SetResult(true);
    }

    private void Cancel(CancellationToken token)
    {
        // Runs on the canceller's thread: take the connection lock that Arm and Set run under.
        lock (gate)
        {
            if (!_armed) return;
            _armed = false;
            _core.SetException(new OperationCanceledException(token));
        }
    }

    void IValueTaskSource.GetResult(short token)
    {
        _cancellation.Dispose();
        _cancellation = default;
        _core.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
