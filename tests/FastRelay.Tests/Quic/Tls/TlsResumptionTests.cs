using Xunit;
using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Tls;
using FastRelay.Protocols.Quic.Tls.Handshake;
using FastRelay.Protocols.Quic.Tls.Resumption;

namespace FastRelay.Tests.Quic.Tls;

/// <summary>Session tickets, PSK resumption (psk_dhe_ke) and 0-RTT at the TLS layer (RFC 8446 §2.2/§2.3/§4.6.1, RFC 9001 §4.6).</summary>
public class TlsResumptionTests
{
    private sealed class ManualTime(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now = start;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static TlsHandshakeOptions Server(SessionTicketProtector protector, bool earlyData = true, ulong maxData = 1 << 21,
        IReadOnlyList<NamedGroup>? groups = null, TimeProvider? time = null)
    {
        var parameters = TlsOptions.ServerParameters();
        parameters.InitialMaxData = maxData;
        return new TlsHandshakeOptions
        {
            ApplicationProtocols = ["h3", "moq-00"],
            LocalTransportParameters = parameters,
            Certificate = TlsTestCertificates.Ecdsa,
            TicketProtector = protector,
            EnableEarlyData = earlyData,
            Groups = groups,
            Time = time ?? TimeProvider.System,
        };
    }

    private static TlsHandshakeOptions Client(List<SessionTicket> received, SessionTicket? ticket = null, bool earlyData = true,
        TimeProvider? time = null, IReadOnlyList<NamedGroup>? groups = null) => new()
    {
        ApplicationProtocols = ["h3"],
        LocalTransportParameters = TlsOptions.ClientParameters(),
        ServerName = "localhost",
        TrustedCertificates = [TlsTestCertificates.Ecdsa],
        ResumptionTicket = ticket,
        EnableEarlyData = earlyData,
        TicketReceived = received.Add,
        Groups = groups,
        Time = time ?? TimeProvider.System,
    };

    /// <summary>A full handshake that leaves one ticket in <paramref name="received"/>.</summary>
    private static SessionTicket FirstTicket(SessionTicketProtector protector, bool earlyData = true, TimeProvider? time = null)
    {
        var received = new List<SessionTicket>();
        using var pair = new HandshakePair(Client(received, time: time), Server(protector, earlyData, time: time));
        Assert.True(pair.Run());
        Assert.False(pair.Client.IsResumed);
        Assert.NotNull(pair.Client.PeerCertificate);
        return Assert.Single(received);
    }

    [Fact]
    public void Full_handshake_issues_a_ticket_that_allows_0rtt_with_the_server_parameters()
    {
        var ticket = FirstTicket(new SessionTicketProtector());
        Assert.True(ticket.AllowsEarlyData);
        Assert.Equal("h3", ticket.ApplicationProtocol);
        Assert.Equal(SessionTicketProtector.DefaultLifetimeSeconds, ticket.LifetimeSeconds);
        Assert.Equal((ulong)(1 << 21), ticket.ServerTransportParameters.InitialMaxData);
        Assert.Equal(7UL, ticket.ServerTransportParameters.InitialMaxStreamsUni);
        Assert.Equal(ticket.CipherSuite.HashLength(), ticket.Psk.Length);
    }

    [Fact]
    public void Resumption_skips_the_certificate_and_accepts_early_data_with_matching_keys()
    {
        var protector = new SessionTicketProtector();
        var ticket = FirstTicket(protector);
        var received = new List<SessionTicket>();
        using var pair = new HandshakePair(Client(received, ticket), Server(protector));
        Assert.True(pair.Run());
        Assert.True(pair.Client.IsResumed);
        Assert.True(pair.Server.IsResumed);
        Assert.Null(pair.Client.PeerCertificate);
        Assert.DoesNotContain(pair.Delivered, d => d.Data.Length > 0 && d.Level == EncryptionLevel.Handshake && !d.ToServer
            && ContainsMessage(d.Data, TlsHandshakeType.Certificate));
        Assert.Equal(EarlyDataState.Accepted, pair.Client.EarlyData);
        Assert.Equal(EarlyDataState.Accepted, pair.Server.EarlyData);
        Assert.True(pair.ClientSink.EarlyDataAccepted);
        Assert.Equal(pair.ClientSink.EarlySecret!.Value.Secret, pair.ServerSink.EarlySecret!.Value.Secret);
        Assert.Equal(pair.ClientSink.Secrets[EncryptionLevel.OneRtt].Write, pair.ServerSink.Secrets[EncryptionLevel.OneRtt].Read);
        // The early keys are installed before anything from the server arrived (0-RTT goes with the first flight).
        Assert.True(pair.ClientSink.Events.IndexOf("install early") < pair.ClientSink.Events.IndexOf("install Handshake"));
        // A resumed connection gets a fresh ticket for the next one.
        Assert.Single(received);
    }

    [Fact]
    public void Replaying_a_ticket_resumes_but_refuses_its_early_data()
    {
        var protector = new SessionTicketProtector();
        var ticket = FirstTicket(protector);
        using (var first = new HandshakePair(Client([], ticket), Server(protector))) Assert.True(first.Run());
        using var replay = new HandshakePair(Client([], ticket), Server(protector));
        Assert.True(replay.Run());
        Assert.True(replay.Server.IsResumed);
        Assert.Equal(EarlyDataState.Rejected, replay.Server.EarlyData);
        Assert.Equal(EarlyDataState.Rejected, replay.Client.EarlyData);
        Assert.False(replay.ClientSink.EarlyDataAccepted);
        Assert.Null(replay.ServerSink.EarlySecret);
    }

    [Fact]
    public void A_forged_or_foreign_ticket_means_a_full_handshake()
    {
        var protector = new SessionTicketProtector();
        var ticket = FirstTicket(protector);
        var bytes = ticket.Ticket.ToArray();
        bytes[20] ^= 1;
        var forged = Clone(ticket, bytes);
        foreach (var (offer, server) in new[] { (forged, protector), (ticket, new SessionTicketProtector()) })
        {
            using var pair = new HandshakePair(Client([], offer), Server(server));
            Assert.True(pair.Run());
            Assert.False(pair.Client.IsResumed);
            Assert.False(pair.Server.IsResumed);
            Assert.NotNull(pair.Client.PeerCertificate);
            Assert.Equal(EarlyDataState.Rejected, pair.Client.EarlyData);
        }
    }

    [Fact]
    public void A_wrong_binder_is_fatal()
    {
        var protector = new SessionTicketProtector();
        var ticket = FirstTicket(protector);
        var wrongPsk = new SessionTicket
        {
            ServerName = ticket.ServerName, ApplicationProtocol = ticket.ApplicationProtocol, CipherSuite = ticket.CipherSuite,
            Psk = new byte[ticket.Psk.Length], Ticket = ticket.Ticket, ReceivedAtUnixMs = ticket.ReceivedAtUnixMs,
            LifetimeSeconds = ticket.LifetimeSeconds, AgeAdd = ticket.AgeAdd, AllowsEarlyData = true,
            ServerTransportParameters = ticket.ServerTransportParameters,
        };
        using var pair = new HandshakePair(Client([], wrongPsk), Server(protector));
        Assert.False(pair.Run());
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.DecryptError), (ulong)pair.ServerError.Code);
    }

    [Fact]
    public void Early_data_is_refused_when_the_server_lowered_a_remembered_limit_or_disabled_it()
    {
        var protector = new SessionTicketProtector();
        var ticket = FirstTicket(protector);
        using (var lowered = new HandshakePair(Client([], ticket), Server(protector, maxData: 1 << 20)))
        {
            Assert.True(lowered.Run());
            Assert.True(lowered.Server.IsResumed);
            Assert.Equal(EarlyDataState.Rejected, lowered.Client.EarlyData);
        }
        var ticket2 = FirstTicket(protector);
        using var disabled = new HandshakePair(Client([], ticket2), Server(protector, earlyData: false));
        Assert.True(disabled.Run());
        Assert.True(disabled.Server.IsResumed);
        Assert.Equal(EarlyDataState.Rejected, disabled.Client.EarlyData);
        // A server without early data issues tickets that do not allow it, so its clients do not even try.
        Assert.False(FirstTicket(protector, earlyData: false).AllowsEarlyData);
    }

    [Fact]
    public void Ticket_age_outside_the_window_or_lifetime_limits_what_resumes()
    {
        var time = new ManualTime(DateTimeOffset.UtcNow);
        var protector = new SessionTicketProtector();
        var ticket = FirstTicket(protector, time: time);
        // Past the 0-RTT window: resumed, no early data.
        time.Now += EarlyDataReplayGuard.DefaultWindow + TimeSpan.FromSeconds(1);
        using (var late = new HandshakePair(Client([], ticket, time: time), Server(protector, time: time)))
        {
            Assert.True(late.Run());
            Assert.True(late.Server.IsResumed);
            Assert.Equal(EarlyDataState.Rejected, late.Server.EarlyData);
        }
        // Past the lifetime: the client does not even offer it.
        time.Now += TimeSpan.FromSeconds(SessionTicketProtector.DefaultLifetimeSeconds);
        using var expired = new HandshakePair(Client([], ticket, time: time), Server(protector, time: time));
        Assert.True(expired.Run());
        Assert.False(expired.Client.IsResumed);
        Assert.Equal(EarlyDataState.NotAttempted, expired.Client.EarlyData);
    }

    [Fact]
    public void A_client_whose_clock_disagrees_with_the_ticket_age_gets_no_early_data()
    {
        var clientTime = new ManualTime(DateTimeOffset.UtcNow);
        var protector = new SessionTicketProtector();
        var ticket = FirstTicket(protector, time: clientTime);
        // The client thinks a minute passed; the server saw none (a replayed ClientHello from the past looks like this).
        clientTime.Now += TimeSpan.FromMinutes(1);
        using var pair = new HandshakePair(Client([], ticket, time: clientTime), Server(protector, time: new ManualTime(clientTime.Now - TimeSpan.FromMinutes(1))));
        Assert.True(pair.Run());
        Assert.True(pair.Server.IsResumed);
        Assert.Equal(EarlyDataState.Rejected, pair.Server.EarlyData);
    }

    [Fact]
    public void Hello_retry_request_keeps_the_psk_and_ends_early_data()
    {
        var protector = new SessionTicketProtector();
        var ticket = FirstTicket(protector);
        using var pair = new HandshakePair(Client([], ticket, groups: [NamedGroup.X25519, NamedGroup.Secp256r1]),
            Server(protector, groups: [NamedGroup.Secp256r1]));
        Assert.True(pair.Run());
        Assert.True(pair.Client.HelloRetryRequested);
        Assert.True(pair.Client.IsResumed);
        Assert.True(pair.Server.IsResumed);
        Assert.Equal(EarlyDataState.Rejected, pair.Client.EarlyData);
        Assert.False(pair.ClientSink.EarlyDataAccepted);
    }

    [Fact]
    public void Tickets_and_caches_survive_serialization_and_refuse_damage()
    {
        var ticket = FirstTicket(new SessionTicketProtector());
        var bytes = ticket.Serialize();
        Assert.True(SessionTicket.TryDeserialize(bytes, out var copy));
        Assert.Equal(ticket.Ticket, copy!.Ticket);
        Assert.Equal(ticket.Psk, copy.Psk);
        Assert.Equal(ticket.ServerTransportParameters, copy.ServerTransportParameters);
        for (int cut = 0; cut < bytes.Length; cut++) Assert.False(SessionTicket.TryDeserialize(bytes.AsSpan(0, cut), out _));
        var random = new Random(5);
        for (int i = 0; i < 2000; i++)
        {
            var mutated = bytes.ToArray();
            mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
            SessionTicket.TryDeserialize(mutated, out _); // never throws
        }

        var cache = new SessionTicketCache();
        cache.Add("localhost:4433", ticket);
        var path = Path.GetTempFileName();
        try
        {
            cache.Save(path);
            var loaded = new SessionTicketCache();
            Assert.Equal(1, loaded.Load(path));
            Assert.True(loaded.TryTake("localhost:4433", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), out var taken));
            Assert.Equal(ticket.Ticket, taken!.Ticket);
            Assert.False(loaded.TryTake("localhost:4433", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), out _)); // single use
            File.WriteAllBytes(path, [.. "FRQT"u8, 200, 1, 2]);
            Assert.Equal(0, new SessionTicketCache().Load(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Replay_guard_is_bounded_and_refuses_when_full()
    {
        var guard = new EarlyDataReplayGuard(TimeSpan.FromMinutes(1), capacity: 3);
        long now = 1_000_000;
        for (uint i = 0; i < 3; i++) Assert.True(guard.TryAccept(i, now, 0, now));
        Assert.False(guard.TryAccept(1, now, 0, now));      // replay
        Assert.False(guard.TryAccept(9, now, 0, now));      // full of live entries: in doubt, refuse
        Assert.True(guard.TryAccept(9, now + 61_000, 0, now + 61_000)); // entries of the old window are gone
        Assert.True(guard.Count <= 3);
    }

    private static SessionTicket Clone(SessionTicket t, byte[] identity) => new()
    {
        ServerName = t.ServerName, ApplicationProtocol = t.ApplicationProtocol, CipherSuite = t.CipherSuite, Psk = t.Psk, Ticket = identity,
        ReceivedAtUnixMs = t.ReceivedAtUnixMs, LifetimeSeconds = t.LifetimeSeconds, AgeAdd = t.AgeAdd, AllowsEarlyData = t.AllowsEarlyData,
        ServerTransportParameters = t.ServerTransportParameters,
    };

    private static bool ContainsMessage(byte[] flight, TlsHandshakeType type)
    {
        int p = 0;
        while (p + 4 <= flight.Length)
        {
            if (flight[p] == (byte)type) return true;
            p += 4 + (flight[p + 1] << 16 | flight[p + 2] << 8 | flight[p + 3]);
        }
        return false;
    }
}
