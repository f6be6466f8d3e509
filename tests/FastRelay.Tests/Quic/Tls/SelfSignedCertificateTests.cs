using Xunit;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using FastRelay.Protocols.Quic.Tls.Certificates;

namespace FastRelay.Tests.Quic.Tls;

public class SelfSignedCertificateTests
{
    [Fact]
    public void DefaultCertificate_HasNamesUsageAndKey()
    {
        using var cert = SelfSignedCertificate.Create();
        Assert.True(cert.HasPrivateKey);
        using var key = cert.GetECDsaPublicKey();
        Assert.Equal(256, key!.KeySize);
        Assert.True(cert.MatchesHostname("localhost", allowWildcards: false, allowCommonName: false));
        Assert.True(cert.MatchesHostname("127.0.0.1", allowWildcards: false, allowCommonName: false));
        Assert.True(cert.MatchesHostname("::1", allowWildcards: false, allowCommonName: false));
        Assert.False(cert.MatchesHostname("example.com", allowWildcards: false, allowCommonName: false));
        var eku = cert.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single();
        Assert.Contains(eku.EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>(), o => o.Value == "1.3.6.1.5.5.7.3.1");
        Assert.True(cert.NotBefore < DateTime.Now && cert.NotAfter > DateTime.Now.AddDays(1));
    }

    [Fact]
    public void CallerNames_BecomeDnsOrIpSans()
    {
        using var cert = SelfSignedCertificate.Create(["relay.test", "10.0.0.7"]);
        Assert.True(cert.MatchesHostname("relay.test", false, false));
        Assert.True(cert.MatchesHostname("10.0.0.7", false, false));
        Assert.False(cert.MatchesHostname("localhost", false, false));
        var san = cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["relay.test"], san.EnumerateDnsNames());
        Assert.Equal([IPAddress.Parse("10.0.0.7")], san.EnumerateIPAddresses());
    }

    [Fact]
    public void ExportedPem_LoadsBack_AndServesAHandshake()
    {
        using var cert = SelfSignedCertificate.Create();
        var dir = Directory.CreateTempSubdirectory("fastrelay-pem-");
        try
        {
            string certPath = Path.Combine(dir.FullName, "cert.pem"), keyPath = Path.Combine(dir.FullName, "key.pem");
            SelfSignedCertificate.ExportPem(cert, certPath, keyPath);
            Assert.StartsWith("-----BEGIN CERTIFICATE-----", File.ReadAllText(certPath));
            Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(keyPath)); // PKCS#8, unencrypted
            if (!OperatingSystem.IsWindows())
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPath));

            using var loaded = X509Certificate2.CreateFromPemFile(certPath, keyPath);
            Assert.True(loaded.HasPrivateKey);
            Assert.Equal(cert.Thumbprint, loaded.Thumbprint);

            using var pair = new HandshakePair(TlsOptions.Client(trust: loaded), TlsOptions.Server(certificate: loaded));
            Assert.True(pair.Run(), $"client {pair.ClientError}, server {pair.ServerError}");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
