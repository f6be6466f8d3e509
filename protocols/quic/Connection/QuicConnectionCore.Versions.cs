using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Wire;
using Microsoft.Extensions.Logging;

namespace FastRelay.Protocols.Quic.Connection;

// QUIC versions (RFC 9368 compatible version negotiation between v1 and v2, RFC 9369 §4). The client's first flight is
// in the original version; a server that prefers another compatible version the client offers answers in that one from
// its ServerHello on, and the client follows the first server packet in another version. Handshake and 1-RTT packets
// (and their keys' labels) are always the negotiated version's; 0-RTT stays in the original version; Initials may be
// either until the Initial space ends (the server reads both).
public sealed partial class QuicConnectionCore
{
    /// <summary>The version of our long headers and of the Handshake/1-RTT key labels: the negotiated one once known.</summary>
    private uint _version;
    /// <summary>The client's first-flight version (RFC 9368 "original version"): 0-RTT packets use it throughout.</summary>
    private uint _originalVersion;
    /// <summary>Client: the server's packets fixed the version (a packet in another version, or the ServerHello); no later change.</summary>
    private bool _versionSettled;
    /// <summary>Server after switching: the original version's Initial read keys, for the client's Initials sent before it followed.</summary>
    private PacketKeys? _originalInitialReadKeys;
    /// <summary>Client: Initial keys of a server packet's other version, kept only if that packet authenticates with them.</summary>
    private (uint Version, PacketKeys Client, PacketKeys Server)? _candidateVersion;

    /// <summary>The connection's QUIC version: the negotiated one once the server chose (before that, the original).</summary>
    public uint Version => _version;
    /// <summary>The version the client's first flight used.</summary>
    public uint OriginalVersion => _originalVersion;

    uint Tls.Handshake.ITlsHandshakeSink.ConnectionVersion => _version;

    private VersionInformation LocalVersionInformation(uint chosen) => new(chosen, [.. _settings.Versions]);

    /// <summary>
    /// Server, from TLS with the ClientHello's transport parameters and before the ServerHello is written: settle the
    /// version. When it changes, the Initial keys follow at once, so the ServerHello already goes in the new version.
    /// </summary>
    QuicError Tls.Handshake.ITlsHandshakeSink.OnClientTransportParameters(TransportParameters client)
    {
        if (!VersionNegotiation.TryChooseForServer(_version, client.VersionInformation, _settings.Versions, out uint negotiated, out var error))
            return error;
        _localParameters.VersionInformation = LocalVersionInformation(negotiated);
        if (negotiated != _version)
        {
            _log.LogDebug("compatible version negotiation: {From} -> {To}", QuicVersion.Name(_version), QuicVersion.Name(negotiated));
            _originalInitialReadKeys = _spaces[0].ReadKeys;
            _spaces[0].ReadKeys = null;
            SwitchInitialKeys(negotiated);
        }
        return default;
    }

    /// <summary>
    /// Client: a server Initial in a version other than ours. The first one, in a version we offered that our first
    /// flight converts to, is the negotiated version (RFC 9369 §4) — once it authenticates with that version's Initial
    /// keys (<see cref="FinishFollowingServerVersion"/>), so a forged or corrupted header changes nothing. Anything
    /// later or else (a Handshake packet in another version included) is dropped.
    /// </summary>
    private bool TryFollowServerVersion(in PacketHeader header, out PacketKeys? readKeys)
    {
        readKeys = null;
        uint version = header.Version;
        if (header.Type != QuicPacketType.Initial || _versionSettled || !VersionNegotiation.Contains(_settings.Versions, version)
            || !QuicVersion.AreCompatible(_version, version))
            return false;
        var (client, server) = PacketKeys.CreateInitial((_retrySource ?? _originalDestination).Span, version);
        _candidateVersion = (version, client, server);
        readKeys = server;
        return true;
    }

    /// <summary>After the packet that made <see cref="TryFollowServerVersion"/> candidate keys was opened, or not.</summary>
    private void FinishFollowingServerVersion(bool authenticated)
    {
        if (_candidateVersion is not { } candidate) return;
        _candidateVersion = null;
        if (!authenticated)
        {
            candidate.Client.Dispose();
            candidate.Server.Dispose();
            return;
        }
        _log.LogDebug("server switched the version: {From} -> {To}", QuicVersion.Name(_version), QuicVersion.Name(candidate.Version));
        var initial = _spaces[0];
        initial.WriteKeys?.Dispose();
        initial.ReadKeys?.Dispose();
        initial.WriteKeys = candidate.Client;
        initial.ReadKeys = candidate.Server;
        _version = candidate.Version;
        _versionSettled = true;
    }

    /// <summary>Server: new Initial keys in <paramref name="version"/> from the same connection id the client derived its own from.</summary>
    private void SwitchInitialKeys(uint version)
    {
        var initial = _spaces[0];
        initial.WriteKeys?.Dispose();
        initial.ReadKeys?.Dispose();
        var (client, server) = PacketKeys.CreateInitial(_originalDestination.Span, version);
        initial.WriteKeys = server;
        initial.ReadKeys = client;
        _version = version;
    }

    /// <summary>
    /// Whether a long-header packet's version is one this connection reads now, and with which Initial keys when they
    /// are not the space's own (a server reading the client's original-version Initials after switching).
    /// </summary>
    private bool AcceptsLongHeaderVersion(in PacketHeader header, out PacketKeys? initialKeys)
    {
        initialKeys = null;
        if (header.Type == QuicPacketType.ZeroRtt) return header.Version == _originalVersion;
        if (header.Version == _version) return true;
        if (_isClient) return TryFollowServerVersion(header, out initialKeys);
        if (header.Type == QuicPacketType.Initial && header.Version == _originalVersion && _originalInitialReadKeys is not null)
        {
            initialKeys = _originalInitialReadKeys;
            return true;
        }
        return false;
    }

    private void DisposeOriginalInitialKeys()
    {
        _originalInitialReadKeys?.Dispose();
        _originalInitialReadKeys = null;
    }
}
