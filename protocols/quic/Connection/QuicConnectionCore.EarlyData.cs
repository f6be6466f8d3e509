using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Tls.Handshake;
using FastRelay.Protocols.Quic.Wire;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Connection;

// 0-RTT (RFC 9001 §4.6, RFC 9000 §7.4.1, §12.3): the client sends stream data with keys from client_early_traffic_secret
// in 0-RTT packets of the application packet number space, under the server limits it remembered from the ticket; the
// server reads them once TLS accepted the early data. Rejected 0-RTT is declared lost and goes again in 1-RTT packets on
// the same streams (the server, having refused it, sees that data for the first time there).
public sealed partial class QuicConnectionCore
{
    /// <summary>Client: 0-RTT write keys until 1-RTT keys exist or the server refused. Server: 0-RTT read keys until the first 1-RTT packet.</summary>
    private PacketKeys? _zeroRttKeys;
    private bool _zeroRttSent;

    /// <summary>Resumed with a session ticket (no certificate was exchanged).</summary>
    public bool IsResumed => _tls.IsResumed;
    public EarlyDataState EarlyDataState => _tls.EarlyData;

    void ITlsHandshakeSink.InstallEarlySecret(CipherSuite suite, ReadOnlySpan<byte> secret)
    {
        _zeroRttKeys?.Dispose();
        // 0-RTT is always in the original version (RFC 9369 §4), so are its labels.
        _zeroRttKeys = PacketKeys.FromSecret(suite, secret, _originalVersion);
        if (_isClient && _settings.ResumptionTicket is { } ticket)
        {
            // RFC 9000 §7.4.1: until the server's parameters arrive, 0-RTT obeys the ones remembered with the ticket.
            Streams.SetPeerLimits(ticket.ServerTransportParameters.ToTransportParameters());
            _loss.SetHasKeys(PacketNumberSpace.ApplicationData, true);
        }
        if (_undecryptable.Count > 0) _replayUndecryptable = true;
        _log.LogDebug("0-RTT keys installed ({Suite}, {Direction})", suite, _isClient ? "write" : "read");
    }

    void ITlsHandshakeSink.EarlyDataResolved(bool accepted)
    {
        _log.LogDebug("0-RTT {Answer} by the server", accepted ? "accepted" : "rejected");
        if (accepted) return;
        DiscardZeroRttKeys();
        // RFC 9001 §4.6.2: nothing sent in 0-RTT arrived; declare it lost so streams send it again in 1-RTT.
        if (_zeroRttSent) _loss.DeclareAllLost(PacketNumberSpace.ApplicationData, this);
    }

    /// <summary>Client: 0-RTT packets may go (early keys, no 1-RTT keys yet).</summary>
    private bool CanSendZeroRtt => _isClient && _zeroRttKeys is not null && _spaces[2].WriteKeys is null && !_spaces[2].Discarded;

    private void DiscardZeroRttKeys()
    {
        _zeroRttKeys?.Dispose();
        _zeroRttKeys = null;
    }
}
