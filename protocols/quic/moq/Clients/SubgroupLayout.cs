namespace FastRelay.Protocols.Moq.Clients;

/// <summary>How a synthetic group's objects are spread over subgroups (and so over QUIC streams).</summary>
public enum SubgroupLayout
{
    /// <summary>One subgroup per group: the key object and every delta on one stream, with the key's priority (a group
    /// is one decoding chain, delivered in order).</summary>
    PerGroup,

    /// <summary>One subgroup per temporal layer: subgroup 0 holds the key object alone with the most urgent priority,
    /// subgroups 1..L-1 the delta frames of each layer, each less urgent than the one below (a congested relay can drop
    /// the top layers first and still deliver a decodable lower frame rate).</summary>
    PerLayer,
}
