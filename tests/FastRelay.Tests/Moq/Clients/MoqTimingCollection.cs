using Xunit;

namespace FastRelay.Tests.Moq.Clients;

/// <summary>Tests that pace objects in real time or measure rates run one after another, not beside each other: on a
/// 2-core machine two of them at once starve each other's publisher and the achieved rates stop meaning anything.</summary>
[CollectionDefinition(Name)]
public sealed class MoqTimingCollection
{
    public const string Name = "MoQ real-time clients";
}
