using FastRelay.Protocols.Quic.Crypto;

namespace FastRelay.Protocols.Quic.Connection;

/// <summary>
/// The kernel's half of an encrypted connection on the fast path (issue 16, docs/quic-encrypted-fast-path.md): the kernel
/// seals its forwarded copies with this connection's keys and numbers them from a counter it shares with the stack. A
/// sealed packet cannot be renumbered, so the stack takes each 1-RTT packet number from the same counter before it seals
/// (<see cref="Reserve"/>), and tells the kernel its send keys at the start and after every key update.
/// </summary>
public interface ISealedFastPathSlot
{
    /// <summary>Sets the shared counter's next number (called once, before any <see cref="Reserve"/>).</summary>
    void Start(ulong firstPacketNumber);

    /// <summary>Takes the next number from the shared counter, atomically with respect to the kernel.</summary>
    ulong Reserve();

    /// <summary>Installs the current 1-RTT send keys (their key phase is <see cref="PacketKeys.KeyPhase"/>): once at the
    /// start and after every key update, before the first packet under them leaves. The kernel seals its copies with
    /// them from then on.</summary>
    void InstallSendKeys(PacketKeys keys);
}
