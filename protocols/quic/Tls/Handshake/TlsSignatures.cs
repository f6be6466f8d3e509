using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace FastRelay.Protocols.Quic.Tls.Handshake;

/// <summary>
/// CertificateVerify signatures (RFC 8446 §4.4.3). Server side: ECDSA P-256/P-384 (the scheme is tied to the curve in
/// TLS 1.3) or RSA-PSS with an rsaEncryption key. Client side: verifies the same set. ECDSA signatures are DER
/// (RFC 3279 Ecdsa-Sig-Value); RSA-PSS uses a salt of the hash length, which is what the BCL's PSS padding does.
/// </summary>
internal static class TlsSignatures
{
    /// <summary>Schemes accepted in a server CertificateVerify.</summary>
    public static readonly SignatureScheme[] Verifiable =
    [
        SignatureScheme.EcdsaSecp256r1Sha256, SignatureScheme.EcdsaSecp384r1Sha384,
        SignatureScheme.RsaPssRsaeSha256, SignatureScheme.RsaPssRsaeSha384, SignatureScheme.RsaPssRsaeSha512,
    ];

    /// <summary>
    /// What the client offers in signature_algorithms: the verifiable schemes, then PKCS#1 v1.5 which TLS 1.3 allows
    /// only for signatures inside certificates (§4.2.3) — offered so that servers checking their chain against the list
    /// do not reject the common RSA-signed chains; never accepted in CertificateVerify.
    /// </summary>
    public static readonly SignatureScheme[] ClientOffered =
    [
        .. Verifiable, SignatureScheme.RsaPkcs1Sha256, SignatureScheme.RsaPkcs1Sha384, SignatureScheme.RsaPkcs1Sha512,
    ];

    /// <summary>The server's signing key and the schemes it can produce, best first.</summary>
    public static AsymmetricAlgorithm GetSigningKey(X509Certificate2 certificate, out SignatureScheme[] schemes)
    {
        if (!certificate.HasPrivateKey) throw new ArgumentException("the server certificate has no private key");
        if (certificate.GetECDsaPrivateKey() is { } ec)
        {
            schemes = ec.KeySize switch
            {
                256 => [SignatureScheme.EcdsaSecp256r1Sha256],
                384 => [SignatureScheme.EcdsaSecp384r1Sha384],
                _ => throw new ArgumentException("ECDSA keys must be P-256 or P-384"),
            };
            return ec;
        }
        if (certificate.GetRSAPrivateKey() is { } rsa)
        {
            schemes = [SignatureScheme.RsaPssRsaeSha256, SignatureScheme.RsaPssRsaeSha384, SignatureScheme.RsaPssRsaeSha512];
            return rsa;
        }
        throw new ArgumentException("the server certificate key must be ECDSA or RSA");
    }

    private static HashAlgorithmName HashOf(SignatureScheme scheme) => scheme switch
    {
        SignatureScheme.EcdsaSecp384r1Sha384 or SignatureScheme.RsaPssRsaeSha384 => HashAlgorithmName.SHA384,
        SignatureScheme.RsaPssRsaeSha512 => HashAlgorithmName.SHA512,
        _ => HashAlgorithmName.SHA256,
    };

    public static byte[] Sign(AsymmetricAlgorithm key, SignatureScheme scheme, byte[] content) => key switch
    {
        ECDsa ec => ec.SignData(content, HashOf(scheme), DSASignatureFormat.Rfc3279DerSequence),
        RSA rsa => rsa.SignData(content, HashOf(scheme), RSASignaturePadding.Pss),
        _ => throw new InvalidOperationException("unsupported key"),
    };

    /// <summary>
    /// Checks a CertificateVerify against the leaf's public key. Returns <see cref="TlsAlert.None"/>, illegal_parameter
    /// for a scheme not offered or not matching the key (§4.4.3), decrypt_error for a bad signature.
    /// </summary>
    public static TlsAlert Verify(X509Certificate2 leaf, SignatureScheme scheme, byte[] content, ReadOnlySpan<byte> signature)
    {
        if (Array.IndexOf(Verifiable, scheme) < 0) return TlsAlert.IllegalParameter;
        try
        {
            switch (scheme)
            {
                case SignatureScheme.EcdsaSecp256r1Sha256:
                case SignatureScheme.EcdsaSecp384r1Sha384:
                {
                    using var ec = leaf.GetECDsaPublicKey();
                    if (ec is null || ec.KeySize != (scheme == SignatureScheme.EcdsaSecp256r1Sha256 ? 256 : 384)) return TlsAlert.IllegalParameter;
                    return ec.VerifyData(content, signature, HashOf(scheme), DSASignatureFormat.Rfc3279DerSequence)
                        ? TlsAlert.None : TlsAlert.DecryptError;
                }
                default:
                {
                    using var rsa = leaf.GetRSAPublicKey();
                    if (rsa is null) return TlsAlert.IllegalParameter;
                    return rsa.VerifyData(content, signature, HashOf(scheme), RSASignaturePadding.Pss)
                        ? TlsAlert.None : TlsAlert.DecryptError;
                }
            }
        }
        catch (CryptographicException)
        {
            // Malformed signature encodings and unusable keys end up here on some providers.
            return TlsAlert.DecryptError;
        }
    }
}
