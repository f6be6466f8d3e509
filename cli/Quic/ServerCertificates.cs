using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using FastRelay.Protocols.Quic.Tls.Certificates;

namespace FastRelay.Cli.Quic;

/// <summary>The server certificate of `quic serve` and `moq relay`: --cert/--key PEM files, or a self-signed one whose PEM
/// is written to a temporary folder (and named on <c>output</c>) so clients can trust it.</summary>
internal static class ServerCertificates
{
    public static X509Certificate2 Load(string? certificatePath, string? keyPath, string selfSignedFolder, TimeSpan? selfSignedValidity, TextWriter output)
    {
        if ((certificatePath is null) != (keyPath is null))
            throw new UserFacingException("--cert and --key go together");
        if (certificatePath is not null)
        {
            try
            {
                return X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
            }
            catch (Exception e) when (e is IOException or CryptographicException or ArgumentException)
            {
                throw new UserFacingException($"cannot load {certificatePath} / {keyPath}: {e.Message}", e);
            }
        }
        var certificate = selfSignedValidity is { } validity ? SelfSignedCertificate.Create(validity: validity) : SelfSignedCertificate.Create();
        var dir = Path.Combine(Path.GetTempPath(), $"{selfSignedFolder}-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        string pem = Path.Combine(dir, "cert.pem"), key = Path.Combine(dir, "key.pem");
        SelfSignedCertificate.ExportPem(certificate, pem, key);
        output.WriteLine($"self-signed certificate: {pem} (key {key})");
        return certificate;
    }
}
