using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace FastRelay.Protocols.Quic.Tls.Certificates;

/// <summary>
/// Self-signed ECDSA P-256 server certificates for tests and local interop (ngtcp2's gtlsserver/gtlsclient): subject
/// alternative names (DNS + IP), serverAuth usage, digitalSignature key usage, exportable as PEM (certificate +
/// unencrypted PKCS#8 "PRIVATE KEY", which GnuTLS reads).
/// </summary>
public static class SelfSignedCertificate
{
    /// <summary>Default names: DNS "localhost", IP 127.0.0.1 and ::1.</summary>
    public static readonly IReadOnlyList<string> DefaultNames = ["localhost", "127.0.0.1", "::1"];

    /// <summary>
    /// Creates the certificate with its private key attached. Each of <paramref name="names"/> becomes an IP SAN when it
    /// parses as an IP address, a DNS SAN otherwise; the subject CN is the first name.
    /// </summary>
    public static X509Certificate2 Create(IEnumerable<string>? names = null, TimeSpan? validity = null)
    {
        var list = (names ?? DefaultNames).ToList();
        if (list.Count == 0) throw new ArgumentException("at least one name is required", nameof(names));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName("CN=" + EscapeCn(list[0])), key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in list)
        {
            if (IPAddress.TryParse(name, out var ip)) san.AddIpAddress(ip);
            else san.AddDnsName(name);
        }
        request.CertificateExtensions.Add(san.Build(critical: false));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        // A little backdating absorbs clock skew between the processes that exchange the certificate.
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-5), now + (validity ?? TimeSpan.FromDays(30)));
    }

    /// <summary>The certificate as "CERTIFICATE" PEM and its key as unencrypted PKCS#8 "PRIVATE KEY" PEM.</summary>
    public static (string CertificatePem, string PrivateKeyPem) ToPem(X509Certificate2 certificate)
    {
        using var key = certificate.GetECDsaPrivateKey() as AsymmetricAlgorithm
            ?? certificate.GetRSAPrivateKey()
            ?? throw new ArgumentException("the certificate has no ECDSA/RSA private key", nameof(certificate));
        return (certificate.ExportCertificatePem() + "\n", key.ExportPkcs8PrivateKeyPem() + "\n");
    }

    /// <summary>Writes the PEM files (the key file is created owner-readable only where the platform supports it).</summary>
    public static void ExportPem(X509Certificate2 certificate, string certificatePath, string privateKeyPath)
    {
        var (certPem, keyPem) = ToPem(certificate);
        File.WriteAllText(certificatePath, certPem);
        if (!OperatingSystem.IsWindows())
        {
            using var stream = new FileStream(privateKeyPath, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
            using var writer = new StreamWriter(stream);
            writer.Write(keyPem);
        }
        else
        {
            File.WriteAllText(privateKeyPath, keyPem);
        }
    }

    private static string EscapeCn(string value) =>
        value.IndexOfAny([',', '+', '"', '\\', '<', '>', ';', '=']) >= 0 ? "\"" + value.Replace("\"", "\\\"") + "\"" : value;
}
