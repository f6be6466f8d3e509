using Xunit;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Tls;
using FastRelay.Protocols.Quic.Tls.Handshake;
using FastRelay.Protocols.Quic.Tls.Messages;

namespace FastRelay.Tests.Quic.Tls;

/// <summary>
/// Hostile input into each state that receives a flight: every truncation and seeded random mutations of the flight a
/// correct peer would send. Nothing may throw; a truncated flight is "need more" (true) or an error, never success.
/// </summary>
public class TlsHandshakeRobustnessTests
{
    /// <summary>The four received flights of a handshake, each with a factory that puts a fresh endpoint in the state to receive it.</summary>
    public enum Target { ServerClientHello, ClientServerHello, ClientServerFlight, ServerClientFinished }

    /// <summary>Runs a fresh handshake up to <paramref name="target"/>; returns the receiver and the genuine flight.</summary>
    private static (HandshakePair Pair, TlsHandshake Receiver, EncryptionLevel Level, byte[] Flight) Prepare(Target target)
    {
        var pair = new HandshakePair(TlsOptions.Client(), TlsOptions.Server());
        pair.Client.Start();
        var ch = pair.ClientSink.TakeFlights().Single().Data;
        if (target == Target.ServerClientHello) return (pair, pair.Server, EncryptionLevel.Initial, ch);
        Assert.True(pair.Server.TryProcess(EncryptionLevel.Initial, ch, out _));
        var server = pair.ServerSink.TakeFlights();
        if (target == Target.ClientServerHello) return (pair, pair.Client, EncryptionLevel.Initial, server[0].Data);
        Assert.True(pair.Client.TryProcess(EncryptionLevel.Initial, server[0].Data, out _));
        if (target == Target.ClientServerFlight) return (pair, pair.Client, EncryptionLevel.Handshake, server[1].Data);
        Assert.True(pair.Client.TryProcess(EncryptionLevel.Handshake, server[1].Data, out _));
        var fin = pair.ClientSink.TakeFlights().Single(f => f.Level == EncryptionLevel.Handshake).Data;
        return (pair, pair.Server, EncryptionLevel.Handshake, fin);
    }

    private static bool Completes(TlsHandshake receiver, Target target) => target switch
    {
        Target.ClientServerFlight or Target.ServerClientFinished => receiver.IsComplete,
        _ => false,
    };

    [Theory]
    [InlineData(Target.ServerClientHello)]
    [InlineData(Target.ClientServerHello)]
    [InlineData(Target.ClientServerFlight)]
    [InlineData(Target.ServerClientFinished)]
    public void EveryTruncation_NeverThrows_NeverCompletes(Target target)
    {
        var (reference, _, _, flight) = Prepare(target);
        reference.Dispose();
        // Long flights (the certificate flight) are sampled every few bytes plus all positions near message edges.
        var cuts = new SortedSet<int>();
        for (int i = 0; i < flight.Length; i += flight.Length > 400 ? 7 : 1) cuts.Add(i);
        foreach (var (_, o, l) in Flight.Messages(flight))
            for (int d = -5; d <= 5; d++) { cuts.Add(Math.Clamp(o + d, 0, flight.Length - 1)); cuts.Add(Math.Clamp(o + l + d, 0, flight.Length - 1)); }
        foreach (int cut in cuts)
        {
            var (pair, receiver, level, full) = Prepare(target);
            using (pair)
            {
                // Each run signs afresh and ECDSA DER signatures vary by a byte or two: stay strictly short of this flight.
                int c = Math.Min(cut, full.Length - 1);
                bool ok = receiver.TryProcess(level, full.AsSpan(0, c), out var error);
                Assert.True(ok || !error.IsNone);
                Assert.False(Completes(receiver, target), $"completed on {c} of {full.Length} bytes");
            }
        }
    }

    [Theory]
    [InlineData(Target.ServerClientHello, 1)]
    [InlineData(Target.ClientServerHello, 2)]
    [InlineData(Target.ClientServerFlight, 3)]
    [InlineData(Target.ServerClientFinished, 4)]
    public void RandomMutations_NeverThrow(Target target, int seed)
    {
        var random = new Random(seed);
        int failures = 0;
        for (int iteration = 0; iteration < 150; iteration++)
        {
            var (pair, receiver, level, flight) = Prepare(target);
            using (pair)
            {
                var mutated = (byte[])flight.Clone();
                int flips = 1 + random.Next(4);
                for (int f = 0; f < flips; f++)
                {
                    switch (random.Next(3))
                    {
                        case 0: mutated[random.Next(mutated.Length)] ^= (byte)(1 << random.Next(8)); break;
                        case 1: mutated[random.Next(mutated.Length)] = (byte)random.Next(256); break;
                        default:
                            // Hit the framing and length fields that matter most: message headers.
                            var messages = Flight.Messages(flight);
                            var (_, o, _) = messages[random.Next(messages.Count)];
                            mutated[o + random.Next(4)] = (byte)random.Next(256);
                            break;
                    }
                }
                bool ok = receiver.TryProcess(level, mutated, out var error);
                if (!ok)
                {
                    failures++;
                    Assert.False(error.IsNone);
                    // After an error the handshake stays failed.
                    Assert.False(receiver.TryProcess(level, flight, out var again));
                    Assert.Equal(error, again);
                }
            }
        }
        // Many mutations must be detected right away (a Random byte or an X25519 share, which is any 32 bytes, passes here).
        Assert.True(failures > 40, $"only {failures} of 150 mutations were rejected");
    }

    [Fact]
    public void RandomBytes_AtEveryLevel_NeverThrow()
    {
        var random = new Random(7);
        for (int i = 0; i < 300; i++)
        {
            var sink = new RecordingSink();
            using var hs = i % 2 == 0 ? TlsHandshake.CreateServer(TlsOptions.Server(), sink) : TlsHandshake.CreateClient(TlsOptions.Client(), sink);
            hs.Start();
            var data = new byte[random.Next(1, 600)];
            random.NextBytes(data);
            if (random.Next(2) == 0) data[0] = (byte)(i % 2 == 0 ? 1 : 2); // plausible message type
            bool ok = hs.TryProcess((EncryptionLevel)random.Next(3), data, out var error);
            Assert.True(ok || !error.IsNone);
            Assert.False(hs.IsComplete);
        }
    }

    [Fact]
    public void HugeLengthPrefix_IsRefusedWithoutAllocating()
    {
        using var server = TlsHandshake.CreateServer(TlsOptions.Server(), new RecordingSink());
        byte[] header = [(byte)TlsHandshakeType.ClientHello, 0xFF, 0xFF, 0xFF]; // 16 MB - 1 body
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.False(server.TryProcess(EncryptionLevel.Initial, header, out var error));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.RecordOverflow), (ulong)error.Code);
        Assert.True(allocated < 64 * 1024, $"{allocated} bytes allocated");
    }

    [Fact]
    public void LargeInputWithoutMessageBoundary_IsBoundedAndRefused()
    {
        // A 1 MB "message" whose length field says 65 KiB + 1: refused as soon as the header is seen.
        using var server = TlsHandshake.CreateServer(TlsOptions.Server(), new RecordingSink());
        var data = new byte[1 << 20];
        data[0] = 1;
        data[1] = 0x01;
        data[2] = 0x00;
        data[3] = 0x01;
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.False(server.TryProcess(EncryptionLevel.Initial, data, out var error));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 200 * 1024);
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.RecordOverflow), (ulong)error.Code);
    }

    [Fact]
    public void MaximalMessage_SplitAcrossCalls_IsBufferedThenParsed()
    {
        // A 64 KiB ClientHello body of garbage arrives in 1000-byte pieces: buffered (true) until complete, then decode_error.
        using var server = TlsHandshake.CreateServer(TlsOptions.Server(), new RecordingSink());
        var data = new byte[4 + HandshakeMessage.DefaultMaxBodyLength];
        data[0] = 1;
        data[1] = 0x01; // length 0x010000 = 65536
        int p = 0;
        QuicError error = default;
        bool ok = true;
        while (p < data.Length && ok)
        {
            int n = Math.Min(1000, data.Length - p);
            ok = server.TryProcess(EncryptionLevel.Initial, data.AsSpan(p, n), out error);
            p += n;
            if (p < data.Length) Assert.True(ok, error.ToString());
        }
        Assert.False(ok);
        Assert.Equal(TlsOptions.CryptoError(TlsAlert.DecodeError), (ulong)error.Code);
    }

    [Fact]
    public void HelloRetryRequestWithCookie_IsEchoed()
    {
        var sink = new RecordingSink();
        using var client = TlsHandshake.CreateClient(TlsOptions.Client(), sink);
        client.Start();
        Assert.True(ClientHello.TryRead(sink.Pending.Single().Data.AsMemory(4), out var ch1, out _));
        sink.Pending.Clear();
        var hrr = new ServerHello
        {
            CipherSuite = FastRelay.Protocols.Quic.Crypto.CipherSuite.Aes128GcmSha256,
            Extensions = new TlsExtensions { SelectedVersion = TlsExtensions.Tls13, Cookie = new byte[] { 5, 6, 7 } },
        };
        hrr.SetHelloRetryRequest();
        Assert.True(client.TryProcess(EncryptionLevel.Initial, Flight.Encode(b => hrr.Write(b)), out var e), e.ToString());
        var ch2 = Assert.Single(sink.Pending).Data;
        Assert.True(ClientHello.TryRead(ch2.AsMemory(4), out var hello, out _));
        Assert.Equal(new byte[] { 5, 6, 7 }, hello.Extensions.Cookie!.Value.ToArray());
        // A cookie-only retry keeps the original key share (§4.1.2: only the requested changes).
        var share = Assert.Single(hello.Extensions.KeyShares!);
        Assert.Equal(ch1.Extensions.KeyShares![0].Group, share.Group);
        Assert.Equal(ch1.Extensions.KeyShares[0].KeyExchange.ToArray(), share.KeyExchange.ToArray());
        Assert.Equal(ch1.Random.ToArray(), hello.Random.ToArray());
    }
}
