using System.Security.Cryptography;

namespace FastRelay.Protocols.Quic.Tls.Handshake;

/// <summary>
/// One ephemeral (EC)DHE key pair for a <see cref="NamedGroup"/> (RFC 8446 §4.2.8): the public value to put in a
/// key_share and the shared secret with a peer's value. Invalid peer values (wrong size/form, point not on the curve)
/// make <see cref="TryDeriveSecret"/> return false; the handshake answers illegal_parameter (§4.2.8.2).
/// </summary>
public abstract class KeyExchange : IDisposable
{
    public NamedGroup Group { get; }

    /// <summary>The key_exchange value to send (uncompressed point for NIST curves).</summary>
    public abstract ReadOnlyMemory<byte> PublicKey { get; }

    protected KeyExchange(NamedGroup group) => Group = group;

    /// <summary>The raw shared secret (the x coordinate for ECDH, RFC 8446 §7.4.2), or false for an invalid peer value.</summary>
    public abstract bool TryDeriveSecret(ReadOnlySpan<byte> peerPublicKey, out byte[] secret);

    public abstract void Dispose();

    /// <summary>
    /// Groups in the default preference order: X25519 first as in most stacks (GnuTLS clients send an x25519 share
    /// first, so a server preferring it avoids a HelloRetryRequest), then the BCL's NIST curves.
    /// </summary>
    internal static readonly NamedGroup[] DefaultGroups = [NamedGroup.X25519, NamedGroup.Secp256r1, NamedGroup.Secp384r1];

    public static bool IsSupported(NamedGroup group) => group is NamedGroup.X25519 or NamedGroup.Secp256r1 or NamedGroup.Secp384r1;

    public static KeyExchange Create(NamedGroup group) => group switch
    {
        NamedGroup.Secp256r1 or NamedGroup.Secp384r1 => new EcdhKeyExchange(group),
        NamedGroup.X25519 => new X25519KeyExchange(),
        _ => throw new ArgumentException($"group {group} is not supported", nameof(group)),
    };
}

/// <summary>ECDHE over secp256r1/secp384r1 with the BCL's <see cref="ECDiffieHellman"/>.</summary>
internal sealed class EcdhKeyExchange : KeyExchange
{
    private readonly ECDiffieHellman _key;
    private readonly ECCurve _curve;
    private readonly int _coordinateLength;
    private readonly byte[] _public;

    public EcdhKeyExchange(NamedGroup group) : base(group)
    {
        _curve = group == NamedGroup.Secp256r1 ? ECCurve.NamedCurves.nistP256 : ECCurve.NamedCurves.nistP384;
        _coordinateLength = group == NamedGroup.Secp256r1 ? 32 : 48;
        _key = ECDiffieHellman.Create(_curve);
        var q = _key.ExportParameters(includePrivateParameters: false).Q;
        _public = new byte[1 + 2 * _coordinateLength];
        _public[0] = 4;
        // Exported coordinates have the field length already; right-align anyway in case a provider trims zeros.
        q.X!.CopyTo(_public.AsSpan(1 + _coordinateLength - q.X!.Length));
        q.Y!.CopyTo(_public.AsSpan(1 + 2 * _coordinateLength - q.Y!.Length));
    }

    public override ReadOnlyMemory<byte> PublicKey => _public;

    public override bool TryDeriveSecret(ReadOnlySpan<byte> peerPublicKey, out byte[] secret)
    {
        secret = [];
        if (peerPublicKey.Length != _public.Length || peerPublicKey[0] != 4) return false;
        var parameters = new ECParameters
        {
            Curve = _curve,
            Q = new ECPoint
            {
                X = peerPublicKey.Slice(1, _coordinateLength).ToArray(),
                Y = peerPublicKey.Slice(1 + _coordinateLength, _coordinateLength).ToArray(),
            },
        };
        try
        {
            // Import validates the point (on the curve, not infinity); an invalid one throws here, not later.
            using var peer = ECDiffieHellman.Create(parameters);
            secret = _key.DeriveRawSecretAgreement(peer.PublicKey);
            return true;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    public override void Dispose() => _key.Dispose();
}
