namespace FastRelay.Tests.Infrastructure;

/// <summary>Waits for a condition that another thread makes true (a relay forgetting a track, a session closing), polling
/// with a deadline instead of a fixed sleep: a fixed sleep is either slow or flaky on two shared cores.</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, string what, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(15));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not within {(within ?? TimeSpan.FromSeconds(15)).TotalSeconds} s: {what}");
            await Task.Delay(10);
        }
    }
}
