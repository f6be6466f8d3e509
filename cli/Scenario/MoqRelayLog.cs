using System.Text.RegularExpressions;

namespace FastRelay.Cli.Scenario;

/// <summary>What a scenario reads from a `moq relay` process's log (its Information lines, MoqRelay.Subscribers.cs).</summary>
public static partial class MoqRelayLog
{
    /// <summary>Downstream SUBSCRIBEs the relay accepted so far (one line per subscriber; not its own upstream ones).</summary>
    public static int AcceptedSubscriptions(string relayLog) => SubscribedLine().Count(relayLog);

    [GeneratedRegex(@": subscribed (?!upstream)")]
    private static partial Regex SubscribedLine();
}
