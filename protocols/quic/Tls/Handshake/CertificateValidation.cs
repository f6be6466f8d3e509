using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace FastRelay.Protocols.Quic.Tls.Handshake;

/// <summary>
/// The client's check of the server's chain (RFC 8446 §4.4.2.4) with <see cref="X509Chain"/>: trust anchored in
/// <see cref="TlsHandshakeOptions.TrustedCertificates"/> (CustomRootTrust) or else the system roots, serverAuth usage,
/// no revocation fetching (a handshake must not block on the network), then the name: DNS SAN (wildcards allowed) or
/// IP SAN for an IP literal, never the subject CN.
/// </summary>
internal static class CertificateValidation
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");

    public static TlsAlert Validate(X509Certificate2 leaf, X509Certificate2Collection intermediates, TlsHandshakeOptions options, out string reason)
    {
        reason = "";
        if (options.TrustedCertificates is { Count: > 0 } trusted)
        {
            var alert = Build(leaf, intermediates, trusted, out reason);
            // The extra anchors come first; a chain to a public root is still fine.
            if (alert != TlsAlert.None && Build(leaf, intermediates, null, out _) == TlsAlert.None) alert = TlsAlert.None;
            if (alert != TlsAlert.None) return alert;
        }
        else
        {
            var alert = Build(leaf, intermediates, null, out reason);
            if (alert != TlsAlert.None) return alert;
        }
        if (options.ServerName is { Length: > 0 } name && !leaf.MatchesHostname(name, allowWildcards: true, allowCommonName: false))
        {
            reason = "server certificate does not match the server name";
            return TlsAlert.BadCertificate;
        }
        return TlsAlert.None;
    }

    private static TlsAlert Build(X509Certificate2 leaf, X509Certificate2Collection intermediates, X509Certificate2Collection? roots, out string reason)
    {
        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.ApplicationPolicy.Add(ServerAuth);
        policy.ExtraStore.AddRange(intermediates);
        if (roots is not null)
        {
            policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            policy.CustomTrustStore.AddRange(roots);
        }
        bool ok;
        try
        {
            ok = chain.Build(leaf);
        }
        catch (CryptographicException)
        {
            ok = false;
        }
        if (ok)
        {
            reason = "";
            return TlsAlert.None;
        }
        var flags = X509ChainStatusFlags.NoError;
        foreach (var s in chain.ChainStatus) flags |= s.Status;
        if ((flags & X509ChainStatusFlags.NotTimeValid) != 0)
        {
            reason = "server certificate expired or not yet valid";
            return TlsAlert.CertificateExpired;
        }
        if ((flags & X509ChainStatusFlags.Revoked) != 0)
        {
            reason = "server certificate revoked";
            return TlsAlert.CertificateRevoked;
        }
        reason = "server certificate chain is not trusted";
        return TlsAlert.BadCertificate;
    }
}
