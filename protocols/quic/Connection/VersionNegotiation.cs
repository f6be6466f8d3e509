using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Connection;

/// <summary>
/// The decisions of compatible version negotiation (RFC 9368 §2.2, §4) as pure functions, so each rule is testable
/// without a handshake: which version a server switches to, and whether a client accepts what the server says it chose.
/// </summary>
public static class VersionNegotiation
{
    /// <summary>
    /// Server: the version for a connection whose client Initials came in <paramref name="packetVersion"/> with the
    /// client's version_information <paramref name="client"/> (null when it sent none). The first of the client's
    /// available versions (its order of preference) that the server supports and that the first flight converts to;
    /// without an offer, the packets' version. A chosen version other than the packets' is a version negotiation error
    /// (§4: tampering or a broken client), as is a connection with no version both support.
    /// </summary>
    public static bool TryChooseForServer(uint packetVersion, VersionInformation? client, IReadOnlyList<uint> serverVersions,
        out uint negotiated, out QuicError error)
    {
        negotiated = 0;
        error = default;
        if (client is not null)
        {
            if (client.ChosenVersion != packetVersion)
            {
                error = QuicError.VersionNegotiation("the client's chosen version is not the version of its Initial packets");
                return false;
            }
            foreach (uint offered in client.AvailableVersions)
            {
                if (!Contains(serverVersions, offered) || !QuicVersion.AreCompatible(packetVersion, offered)) continue;
                negotiated = offered;
                return true;
            }
        }
        if (Contains(serverVersions, packetVersion))
        {
            negotiated = packetVersion;
            return true;
        }
        error = QuicError.VersionNegotiation("no QUIC version both ends support");
        return false;
    }

    /// <summary>
    /// Client: checks the server's version_information against the version its packets used
    /// (<paramref name="negotiated"/>) and what we offered (§4): the chosen version must be that version and one we
    /// offered. Without version_information the server may only have kept our original version.
    /// </summary>
    public static QuicError CheckServerChoice(VersionInformation? server, uint negotiated, uint original, IReadOnlyList<uint> offered)
    {
        if (server is null)
            return negotiated == original ? default : QuicError.VersionNegotiation("the server switched versions without version_information");
        if (server.ChosenVersion != negotiated)
            return QuicError.VersionNegotiation("the server's chosen version is not the version of its packets");
        if (!Contains(offered, server.ChosenVersion))
            return QuicError.VersionNegotiation("the server chose a version we did not offer");
        return default;
    }

    public static bool Contains(IReadOnlyList<uint> versions, uint version)
    {
        for (int i = 0; i < versions.Count; i++) if (versions[i] == version) return true;
        return false;
    }
}
