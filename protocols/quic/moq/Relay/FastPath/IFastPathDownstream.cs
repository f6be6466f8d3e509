using FastRelay.Protocols.Quic.Api;

namespace FastRelay.Protocols.Moq.Relay.FastPath;

/// <summary>
/// What the kernel plane's event pump feeds for one subscriber slot: the three ring-buffer events of the contract
/// (prompts/contract.md, docs/quic-fast-path.md "Events"). Times are kernel CLOCK_MONOTONIC nanoseconds.
/// An interface (not QuicConnection directly) so the pump can be tested against the real kernel without a handshake.
/// </summary>
public interface IFastPathDownstream
{
    /// <summary>The relay's own packet <paramref name="local"/> left as <paramref name="wire"/>.</summary>
    void OnNumbered(ulong local, ulong wire, long timeNs);

    /// <summary>The kernel sent a copy of upstream data to this subscriber as packet <paramref name="wire"/>.</summary>
    void OnForwarded(ulong wire, long timeNs, int packetBytes, ulong streamId, ulong offset, ulong length, bool fin);

    /// <summary>A mapped copy the kernel did not send: userspace must send that range itself.</summary>
    void OnNotForwarded(ulong streamId, ulong offset, ulong length, bool fin);
}

/// <summary>The production sink: a downstream QUIC connection with external packet numbering on.</summary>
public sealed class QuicConnectionDownstream(QuicConnection connection) : IFastPathDownstream
{
    private long _registeredDataBytes;

    public QuicConnection Connection { get; } = connection;

    /// <summary>Stream data bytes of forwarded copies registered with the connection so far: the kernel's used
    /// credit minus this is what it forwarded but the connection does not know of yet (credit refresh).</summary>
    public long RegisteredDataBytes => Interlocked.Read(ref _registeredDataBytes);

    public void OnNumbered(ulong local, ulong wire, long timeNs) => Connection.ConfirmPacketNumber(local, wire, timeNs);

    public void OnForwarded(ulong wire, long timeNs, int packetBytes, ulong streamId, ulong offset, ulong length, bool fin)
    {
        Connection.RegisterForwardedPacket(wire, timeNs, packetBytes, streamId, offset, length, fin);
        Interlocked.Add(ref _registeredDataBytes, (long)length);
    }

    public void OnNotForwarded(ulong streamId, ulong offset, ulong length, bool fin) =>
        Connection.ReportNotForwarded(streamId, offset, length, fin);
}
