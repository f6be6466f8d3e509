namespace FastRelay.Relay;

/// <summary>
/// Told which upstream packet went to a subscriber under which of its own packet numbers (protocols that renumber per
/// subscriber), so a protocol's control plane can answer a retransmission request by number from a cache. The kernel
/// plane reports runs (fr_events with FR_CONFIG_REGISTER_RUNS), the userspace plane every copy.
/// </summary>
public interface IRegistrationSink
{
    /// <summary><paramref name="subscriberNumber"/> carried <paramref name="upstreamNumber"/>, and the numbers after it
    /// continue that run (s + k carried p + k) until the slot's next registration.</summary>
    void OnSent(int slot, ulong subscriberNumber, ulong upstreamNumber);

    /// <summary>Registrations were lost (the kernel's ring was full): every run known so far may have a break nobody
    /// reported, so none can be trusted to answer a retransmission request.</summary>
    void OnRegistrationsLost();
}
