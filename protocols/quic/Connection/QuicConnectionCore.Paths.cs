using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Connection;

// The peer's address (RFC 9000 §9): follow it when it moves (NAT rebinding), validate the new path with
// PATH_CHALLENGE / PATH_RESPONSE, limit what is sent there until then (three times what arrived from it, §9.3 / §8),
// fall back to the last validated address if validation fails, and start congestion control and RTT estimation
// afresh once a path with another IP address is validated (§9.4).
// We advertise disable_active_migration, so a peer does not probe new paths on purpose; an address changes only under
// it (a NAT rebinding), with non-probing packets and the same connection id. A PATH_CHALLENGE is therefore answered on
// the current path.
public sealed partial class QuicConnectionCore
{
    /// <summary>kInitialRtt (RFC 9002 §6.2.2), for the path validation timeout of RFC 9000 §8.2.4.</summary>
    private const long InitialRttForValidation = 333_000;

    private SocketAddress? _peerAddress;
    private SocketAddress? _fallbackAddress;   // the last validated address while a new one is being validated
    private bool _pathValidated = true;        // the handshake's path: validated by the handshake itself (§8.1)
    private long _pathBytesReceived;
    private long _pathBytesSent;
    private ulong? _pathChallenge;
    private bool _pathChallengePending;
    private long _pathChallengeSentAt;
    private long _pathValidationDeadline = long.MaxValue;
    private SocketAddress? _datagramSource;    // where the datagram being processed came from (null: the owner does not say)
    private bool _packetHasNonProbingFrame;
    private bool _padDatagram;                 // PATH_CHALLENGE / PATH_RESPONSE: expand to 1200 bytes (§8.2.1, §8.2.2)

    /// <summary>
    /// Where the peer is: the source of the first datagram, then of the highest-numbered non-probing 1-RTT packet (once
    /// the handshake is confirmed). Null when the owner never passes addresses. Datagrams from <see cref="WriteDatagram"/> go here.
    /// </summary>
    public SocketAddress? PeerAddress => _peerAddress;

    /// <summary>The current peer address was validated (by the handshake, or by PATH_CHALLENGE/PATH_RESPONSE after a move).</summary>
    public bool IsPeerAddressValidated => _pathValidated;

    /// <summary>
    /// Processes one UDP datagram from <paramref name="from"/> (the caller may reuse that object afterwards: it is copied
    /// when kept). A 1-RTT packet from a new address can move the connection there (RFC 9000 §9.3).
    /// </summary>
    public void OnDatagram(Memory<byte> datagram, SocketAddress? from, long now, byte ecn = 0)
    {
        _datagramSource = from;
        _datagramEcn = (byte)(ecn & 0x03);
        if (from is not null)
        {
            _peerAddress ??= Copy(from);
            if (!_pathValidated && from.Equals(_peerAddress)) _pathBytesReceived += datagram.Length;
        }
        try
        {
            OnDatagram(datagram, now);
        }
        finally
        {
            _datagramSource = null;
        }
    }

    /// <summary>After a 1-RTT packet was processed: did it move the peer (§9.3: non-probing, highest number, new address)?</summary>
    private void ConsiderPeerAddressChange(ulong packetNumber, ulong? largestReceived, long now)
    {
        if (_datagramSource is not { } from || _peerAddress is null || from.Equals(_peerAddress)) return;
        // RFC 9000 §9: no migration before the handshake is confirmed; only the highest-numbered non-probing packet counts.
        if (!_handshakeConfirmed || !_packetHasNonProbingFrame || largestReceived != packetNumber) return;
        if (_fallbackAddress is { } fallback && from.Equals(fallback))
        {
            // Back on the path we had validated (a reordered packet from before the move, or the NAT changed its mind).
            _log.LogDebug("peer returned to its validated address");
            _peerAddress = fallback;
            _fallbackAddress = null;
            EndPathValidation(validated: true);
            return;
        }
        if (_pathValidated) _fallbackAddress = _peerAddress;
        _peerAddress = Copy(from);
        _pathValidated = false;
        _pathBytesReceived = _datagramLength;
        _pathBytesSent = 0;
        _pathChallenge = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
        _pathChallengePending = true;
        _pathChallengeSentAt = now;
        _pathValidationDeadline = now + Math.Max(3 * ProbeTimeout(), 6 * InitialRttForValidation);
        _log.LogDebug("peer address changed to {Address}: validating the new path", Describe(_peerAddress));
    }

    private void OnPathResponse(ulong data)
    {
        if (_pathChallenge != data) return;   // not ours, or an answer to a challenge we no longer care about
        var previous = _fallbackAddress;
        _fallbackAddress = null;
        EndPathValidation(validated: true);
        // §9.4: a new IP address is a new path with unknown capacity and delay; a new port only is the same network.
        if (previous is not null && _peerAddress is not null && !SameIpAddress(previous, _peerAddress))
        {
            _rtt.ResetForNewPath();
            _cc.ResetForNewPath();
        }
        _log.LogDebug("path to {Address} validated", Describe(_peerAddress));
    }

    private void EndPathValidation(bool validated)
    {
        _pathValidated = validated;
        _pathChallenge = null;
        _pathChallengePending = false;
        _pathValidationDeadline = long.MaxValue;
    }

    private long PathValidationTimeout => _pathChallenge is null ? long.MaxValue : Math.Min(_pathValidationDeadline, _pathChallengeSentAt + ProbeTimeout());

    private void OnPathValidationTimeout(long now)
    {
        if (_pathChallenge is null) return;
        if (now >= _pathValidationDeadline)
        {
            // §9.3.2: the new address did not prove itself; go back to the last validated one.
            _log.LogDebug("path validation of {Address} failed", Describe(_peerAddress));
            if (_fallbackAddress is { } fallback)
            {
                _peerAddress = fallback;
                _fallbackAddress = null;
            }
            EndPathValidation(validated: _peerAddress is not null);
            return;
        }
        if (now >= _pathChallengeSentAt + ProbeTimeout())
        {
            _pathChallengePending = true;   // the challenge or its answer may be lost: ask again, once per PTO
            _pathChallengeSentAt = now;
        }
    }

    /// <summary>Bytes that may still go to an unvalidated peer address (three times what came from it).</summary>
    private long PathAmplificationAllowance => _pathValidated ? long.MaxValue : 3 * _pathBytesReceived - _pathBytesSent;

    private static SocketAddress Copy(SocketAddress address)
    {
        var copy = new SocketAddress(address.Family, address.Size);
        address.Buffer.Span[..address.Size].CopyTo(copy.Buffer.Span);
        return copy;
    }

    private static bool SameIpAddress(SocketAddress a, SocketAddress b) => ToEndPoint(a)?.Address.Equals(ToEndPoint(b)?.Address) == true;

    private static IPEndPoint? ToEndPoint(SocketAddress? address) =>
        address?.Family is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6
            ? (IPEndPoint)new IPEndPoint(address.Family == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0).Create(address)
            : null;

    private static string Describe(SocketAddress? address) => ToEndPoint(address)?.ToString() ?? "(unknown)";
}
