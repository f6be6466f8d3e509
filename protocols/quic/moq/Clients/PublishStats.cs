namespace FastRelay.Protocols.Moq.Clients;

/// <summary>Counters both publishers keep, turned into a <see cref="MoqPublisherReport"/> at the end.</summary>
internal sealed class PublishStats
{
    private readonly SortedDictionary<int, long> _byPriority = [];
    private ulong? _lastGroup;

    public long Objects { get; private set; }
    public long Bytes { get; private set; }
    public long Groups { get; private set; }
    public long KeyObjects { get; private set; }
    public long LateObjects { get; private set; }
    public long MaxLagMicroseconds { get; private set; }

    public void Sent(ulong group, byte priority, int bytes, bool isKey, long lagMicroseconds, long lateThresholdMicroseconds)
    {
        Objects++;
        Bytes += bytes;
        if (isKey) KeyObjects++;
        if (_lastGroup != group)
        {
            Groups++;
            _lastGroup = group;
        }
        _byPriority[priority] = _byPriority.GetValueOrDefault(priority) + 1;
        if (lagMicroseconds > MaxLagMicroseconds) MaxLagMicroseconds = lagMicroseconds;
        if (lagMicroseconds > lateThresholdMicroseconds) LateObjects++;
    }

    public MoqPublisherReport Report(string url, string track, string source, TimeSpan elapsed, long subgroupsOpened, string? stoppedBecause)
    {
        var seconds = Math.Max(elapsed.TotalSeconds, 1e-6);
        return new MoqPublisherReport
        {
            Url = url,
            Track = track,
            Source = source,
            DurationSeconds = Math.Round(elapsed.TotalSeconds, 3),
            Objects = Objects,
            Bytes = Bytes,
            Groups = Groups,
            KeyObjects = KeyObjects,
            SubgroupsOpened = subgroupsOpened,
            ObjectsPerSecond = Math.Round(Objects / seconds, 1),
            BitsPerSecond = Math.Round(Bytes * 8 / seconds),
            ObjectsByPriority = new SortedDictionary<string, long>(_byPriority.ToDictionary(p => p.Key.ToString("D3"), p => p.Value)),
            MaxScheduleLagMicroseconds = MaxLagMicroseconds,
            LateObjects = LateObjects,
            StoppedBecause = stoppedBecause,
        };
    }
}
