using FastRelay.Protocols.Moq.Wire;
namespace FastRelay.Tests.Moq.Relay.Fakes;

/// <summary>A clock the test moves: the relay's linger uses timestamps from it.</summary>
internal sealed class ManualTime : TimeProvider
{
    private long _ticks = 1_000_000;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}
