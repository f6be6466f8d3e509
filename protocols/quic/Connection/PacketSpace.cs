using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Streams;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Connection;

/// <summary>
/// The state one packet number space keeps (RFC 9000 §12.3): its keys, the next packet number, what was received
/// (for ACKs and duplicate detection) and the CRYPTO stream of its encryption level in both directions.
/// </summary>
internal sealed class PacketSpace(PacketNumberSpace space) : IDisposable
{
    /// <summary>How far ahead of the TLS reader the peer may send CRYPTO data (certificate chains are a few KB).</summary>
    private const ulong CryptoReceiveLimit = 256 * 1024;
    /// <summary>
    /// Separate CRYPTO ranges per level. An honest handshake has a few (one per lost or reordered packet of a flight);
    /// Initial CRYPTO frames arrive before anything is authenticated, so each costs an attacker nothing.
    /// </summary>
    private const int CryptoReceiveMaxRanges = 128;
    private const int CryptoSendCapacity = 256 * 1024;

    public PacketNumberSpace Space { get; } = space;
    public PacketKeys? ReadKeys { get; set; }
    public PacketKeys? WriteKeys { get; set; }
    public ulong NextPacketNumber { get; set; }
    public ReceivedPacketTracker Received { get; } = new(space);
    public ReceiveBuffer CryptoReceive { get; } = new(CryptoReceiveLimit, QuicTransportError.CryptoBufferExceeded, CryptoReceiveMaxRanges);
    public SendBuffer CryptoSend { get; private set; } = new(CryptoSendCapacity);
    /// <summary>Keys were dropped (RFC 9001 §4.9): packets of this space are ignored and none are sent.</summary>
    public bool Discarded { get; private set; }
    /// <summary>PTO probes still to send in this space.</summary>
    public int ProbesPending { get; set; }

    public bool CanSend => !Discarded && WriteKeys is not null;

    public void Discard()
    {
        Discarded = true;
        ReadKeys?.Dispose();
        WriteKeys?.Dispose();
        ReadKeys = null;
        WriteKeys = null;
        ProbesPending = 0;
    }

    /// <summary>Everything sent but not acknowledged goes out again (PTO probes and Retry).</summary>
    public void ResendUnacknowledgedCrypto() => CryptoSend.OnLost(0, CryptoSend.WrittenLength, false);

    public void Dispose() => Discard();
}
