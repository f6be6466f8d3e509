namespace FastRelay.Protocols.Moq.Session;

/// <summary>
/// The bytes all data streams of a session may hold in their receive buffers together. Each stream's buffer is
/// bounded by the largest object; this bounds their sum, so many streams each sending half an object cannot add up.
/// </summary>
internal sealed class MoqBufferBudget(long limit)
{
    private long _used;

    public long Used => Interlocked.Read(ref _used);

    public bool TryTake(int bytes)
    {
        if (Interlocked.Add(ref _used, bytes) <= limit) return true;
        Interlocked.Add(ref _used, -bytes);
        return false;
    }

    public void Release(int bytes) => Interlocked.Add(ref _used, -bytes);
}

/// <summary>Internal: a stream wanted more buffer than the session's budget has left; the stream is refused.</summary>
internal sealed class MoqBufferBudgetException() : Exception("session receive buffer budget exhausted");
