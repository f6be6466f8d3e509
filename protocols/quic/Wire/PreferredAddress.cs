using System.Net;

namespace FastRelay.Protocols.Quic.Wire;

/// <summary>
/// The server's preferred_address transport parameter (RFC 9000 §18.2): an IPv4 and an IPv6 endpoint (all-zero address
/// and port mean "none of this family"), a non-empty connection id and its stateless reset token.
/// </summary>
public sealed record PreferredAddress(IPAddress IPv4Address, ushort IPv4Port, IPAddress IPv6Address, ushort IPv6Port,
    ConnectionId ConnectionId, UInt128 StatelessResetToken)
{
    public const int MinEncodedLength = 4 + 2 + 16 + 2 + 1 + 16;

    public int EncodedLength => MinEncodedLength + ConnectionId.Length;
}
