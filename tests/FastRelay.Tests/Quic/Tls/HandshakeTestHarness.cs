using Xunit;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Tls;
using FastRelay.Protocols.Quic.Tls.Certificates;
using FastRelay.Protocols.Quic.Tls.Handshake;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Tests.Quic.Tls;

/// <summary>Records everything a handshake hands to its connection, in order.</summary>
internal sealed class RecordingSink : ITlsHandshakeSink
{
    public readonly List<(EncryptionLevel Level, byte[] Data)> Pending = new();
    public readonly Dictionary<EncryptionLevel, (CipherSuite Suite, byte[] Read, byte[] Write)> Secrets = new();
    public readonly List<string> Events = new();
    public bool Completed;

    public void WriteCrypto(EncryptionLevel level, ReadOnlySpan<byte> data)
    {
        Pending.Add((level, data.ToArray()));
        Events.Add($"write {level}");
    }

    public void InstallSecrets(EncryptionLevel level, CipherSuite suite, ReadOnlySpan<byte> readSecret, ReadOnlySpan<byte> writeSecret)
    {
        Assert.False(Secrets.ContainsKey(level), $"secrets installed twice for {level}");
        Secrets[level] = (suite, readSecret.ToArray(), writeSecret.ToArray());
        Events.Add($"install {level}");
    }

    public (CipherSuite Suite, byte[] Secret)? EarlySecret;
    public bool? EarlyDataAccepted;

    public void InstallEarlySecret(CipherSuite suite, ReadOnlySpan<byte> secret)
    {
        Assert.Null(EarlySecret);
        EarlySecret = (suite, secret.ToArray());
        Events.Add("install early");
    }

    public void EarlyDataResolved(bool accepted)
    {
        Assert.Null(EarlyDataAccepted);
        EarlyDataAccepted = accepted;
        Events.Add($"early data {(accepted ? "accepted" : "rejected")}");
    }

    public void HandshakeCompleted()
    {
        Assert.False(Completed, "completed twice");
        Completed = true;
        Events.Add("complete");
    }

    /// <summary>Takes the pending writes as flights: consecutive writes at the same level concatenated.</summary>
    public List<(EncryptionLevel Level, byte[] Data)> TakeFlights()
    {
        var flights = new List<(EncryptionLevel, byte[])>();
        foreach (var (level, data) in Pending)
        {
            if (flights.Count > 0 && flights[^1].Item1 == level) flights[^1] = (level, [.. flights[^1].Item2, .. data]);
            else flights.Add((level, data));
        }
        Pending.Clear();
        return flights;
    }
}

/// <summary>
/// A client and a server wired through two recording sinks: each flight one side writes is delivered to the other at
/// the same level (whole, or one byte per call), optionally rewritten by <see cref="Tamper"/> on the way.
/// </summary>
internal sealed class HandshakePair : IDisposable
{
    public readonly RecordingSink ClientSink = new(), ServerSink = new();
    public readonly TlsHandshake Client, Server;
    public QuicError ClientError, ServerError;
    public bool ByteAtATime;
    /// <summary>(toServer, level, flight) → bytes to deliver.</summary>
    public Func<bool, EncryptionLevel, byte[], byte[]>? Tamper;
    /// <summary>Every flight delivered, in order (after tampering).</summary>
    public readonly List<(bool ToServer, EncryptionLevel Level, byte[] Data)> Delivered = new();

    public HandshakePair(TlsHandshakeOptions client, TlsHandshakeOptions server)
    {
        Client = TlsHandshake.CreateClient(client, ClientSink);
        Server = TlsHandshake.CreateServer(server, ServerSink);
    }

    public bool Failed => !ClientError.IsNone || !ServerError.IsNone;

    /// <summary>Runs until nothing is left to deliver or one side fails; true when both completed without error.</summary>
    public bool Run()
    {
        Client.Start();
        bool progress = true;
        while (progress && !Failed)
        {
            progress = Deliver(ClientSink, Server, toServer: true, ref ServerError);
            if (!Failed) progress |= Deliver(ServerSink, Client, toServer: false, ref ClientError);
        }
        return !Failed && Client.IsComplete && Server.IsComplete;
    }

    private bool Deliver(RecordingSink from, TlsHandshake to, bool toServer, ref QuicError error)
    {
        var flights = from.TakeFlights();
        foreach (var (level, original) in flights)
        {
            var data = Tamper?.Invoke(toServer, level, original) ?? original;
            Delivered.Add((toServer, level, data));
            if (ByteAtATime)
            {
                for (int i = 0; i < data.Length; i++)
                    if (!to.TryProcess(level, data.AsSpan(i, 1), out error)) return true;
            }
            else if (!to.TryProcess(level, data, out error)) return true;
        }
        return flights.Count > 0;
    }

    public void Dispose()
    {
        Client.Dispose();
        Server.Dispose();
    }
}

internal static class TlsTestCertificates
{
    public static readonly X509Certificate2 Ecdsa = SelfSignedCertificate.Create();
    public static readonly X509Certificate2 EcdsaP384 = CreateEc(ECCurve.NamedCurves.nistP384, HashAlgorithmName.SHA384);
    public static readonly X509Certificate2 Rsa = CreateRsa();
    public static readonly X509Certificate2 OtherName = SelfSignedCertificate.Create(["other.example"]);

    private static CertificateRequest WithServerExtensions(CertificateRequest request)
    {
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        return request;
    }

    private static X509Certificate2 CreateEc(ECCurve curve, HashAlgorithmName hash)
    {
        using var key = ECDsa.Create(curve);
        var request = WithServerExtensions(new CertificateRequest("CN=localhost", key, hash));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static X509Certificate2 CreateRsa()
    {
        using var key = RSA.Create(2048);
        var request = WithServerExtensions(new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }
}

internal static class TlsOptions
{
    public static TransportParameters ClientParameters() => new()
    {
        InitialMaxData = 1 << 20,
        InitialMaxStreamsBidi = 100,
        InitialSourceConnectionId = new ConnectionId([1, 2, 3, 4, 5, 6, 7, 8]),
    };

    public static TransportParameters ServerParameters() => new()
    {
        InitialMaxData = 1 << 21,
        InitialMaxStreamsUni = 7,
        MaxIdleTimeout = 30000,
        InitialSourceConnectionId = new ConnectionId([9, 9, 9, 9]),
        OriginalDestinationConnectionId = new ConnectionId([1, 2, 3, 4, 5, 6, 7, 8]),
    };

    public static TlsHandshakeOptions Client(string? serverName = "localhost", X509Certificate2? trust = null, bool skip = false,
        IReadOnlyList<string>? alpn = null, IReadOnlyList<NamedGroup>? groups = null, IReadOnlyList<CipherSuite>? suites = null,
        bool trustDefault = true) => new()
    {
        ApplicationProtocols = alpn ?? ["moq-00", "h3"],
        LocalTransportParameters = ClientParameters(),
        ServerName = serverName,
        TrustedCertificates = trust is not null ? [trust] : trustDefault ? [TlsTestCertificates.Ecdsa] : null,
        SkipCertificateValidation = skip,
        Groups = groups,
        CipherSuites = suites,
    };

    public static TlsHandshakeOptions Server(X509Certificate2? certificate = null, IReadOnlyList<string>? alpn = null,
        IReadOnlyList<NamedGroup>? groups = null, IReadOnlyList<CipherSuite>? suites = null) => new()
    {
        ApplicationProtocols = alpn ?? ["h3", "moq-00"],
        LocalTransportParameters = ServerParameters(),
        Certificate = certificate ?? TlsTestCertificates.Ecdsa,
        Groups = groups,
        CipherSuites = suites,
    };

    public static ulong CryptoError(TlsAlert alert) => 0x100UL + (byte)alert;
}

/// <summary>Finds and rewrites handshake messages inside a flight (type + uint24 length framing).</summary>
internal static class Flight
{
    public static List<(TlsHandshakeType Type, int Offset, int Length)> Messages(byte[] flight)
    {
        var result = new List<(TlsHandshakeType, int, int)>();
        int p = 0;
        while (p + 4 <= flight.Length)
        {
            int length = (flight[p + 1] << 16) | (flight[p + 2] << 8) | flight[p + 3];
            result.Add(((TlsHandshakeType)flight[p], p, 4 + length));
            p += 4 + length;
        }
        return result;
    }

    public static (int Offset, int Length) Find(byte[] flight, TlsHandshakeType type)
    {
        foreach (var (t, o, l) in Messages(flight)) if (t == type) return (o, l);
        throw new InvalidOperationException($"{type} not in flight");
    }

    /// <summary>Replaces one message of the flight by <paramref name="replacement"/> (a complete message).</summary>
    public static byte[] Replace(byte[] flight, TlsHandshakeType type, byte[] replacement)
    {
        var (o, l) = Find(flight, type);
        return [.. flight.AsSpan(0, o), .. replacement, .. flight.AsSpan(o + l)];
    }

    public static ReadOnlyMemory<byte> Body(byte[] flight, TlsHandshakeType type)
    {
        var (o, l) = Find(flight, type);
        return flight.AsMemory(o + 4, l - 4);
    }

    public static byte[] Encode(Func<byte[], int> write)
    {
        var buffer = new byte[1 << 16];
        int n = write(buffer);
        return buffer.AsSpan(0, n).ToArray();
    }
}
