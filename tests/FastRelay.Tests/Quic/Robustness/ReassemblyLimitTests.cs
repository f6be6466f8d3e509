using System.Diagnostics;
using FastRelay.Protocols.Quic;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Streams;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;
using FastRelay.Tests.Quic.Connection;
using Xunit;

namespace FastRelay.Tests.Quic.Robustness;

/// <summary>
/// Reassembly keeps one range per run of received bytes. A peer that sends single bytes with gaps between them makes
/// one range per byte: unbounded, that is memory and (with linear insertion) quadratic CPU, and for CRYPTO it is
/// reachable with Initial packets before any handshake. The count must be bounded and the connection closed.
/// </summary>
public class ReassemblyLimitTests
{
    private sealed class NoRoutes : IConnectionIdListener
    {
        public void OnIssued(in ConnectionId id) { }
        public void OnRetired(in ConnectionId id) { }
    }

    [Fact]
    public void Single_bytes_with_gaps_in_reverse_order_stop_at_a_bounded_range_count_with_the_buffers_error()
    {
        var buffer = new ReceiveBuffer(16 << 20, QuicTransportError.FlowControlError);
        var clock = Stopwatch.StartNew();
        int accepted = 0;
        QuicError? firstError = null;
        // Worst case for a sorted list: every piece lands in front of all the others.
        for (ulong offset = 400_000; offset > 0; offset -= 2)
        {
            if (buffer.TryWrite(offset, [0x55], false, out var error)) accepted++;
            else firstError ??= error;
        }
        clock.Stop();
        Assert.NotNull(firstError);
        Assert.Equal(QuicTransportError.FlowControlError, firstError.Value.Code);
        Assert.InRange(accepted, 1, 4096);
        Assert.True(buffer.RetainedBytes <= 16 << 20, $"retained {buffer.RetainedBytes} bytes");
        // 200,000 attempts; the unbounded quadratic version needs minutes here. Generous for a noisy machine.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"200,000 adversarial writes took {clock.Elapsed}");
    }

    [Fact]
    public void A_bounded_number_of_gaps_still_reassembles_when_they_fill()
    {
        var buffer = new ReceiveBuffer(1 << 20, QuicTransportError.FlowControlError);
        // 1000 separate bytes (the bound must leave room for a lossy but honest peer), then the gaps between them.
        for (ulong offset = 2000; offset > 0; offset -= 2) Assert.True(buffer.TryWrite(offset, [1], false, out _));
        Assert.True(buffer.TryWrite(0, [1], false, out _));
        for (ulong offset = 1; offset < 2000; offset += 2) Assert.True(buffer.TryWrite(offset, [1], false, out _));
        Assert.Equal(2001, buffer.Available);
    }

    [Fact]
    public void A_client_Initial_full_of_one_byte_CRYPTO_frames_with_gaps_closes_with_CRYPTO_BUFFER_EXCEEDED()
    {
        var destination = ConnectionId.Random(8);
        var source = ConnectionId.Random(8);
        var settings = new ConnectionSettingsBuilder(QuicPerspective.Server) { Certificate = LoopbackCertificate() }.Build();
        var context = new ServerHandshakeContext(destination, destination, source, ConnectionId.Random(8), null, false);
        using var server = QuicConnectionCore.CreateServer(settings, context, new NoRoutes(), 1_000_000);

        // 200 CRYPTO frames of one byte each at offsets 1000, 1002, ...: 200 separate ranges, none readable by TLS.
        var frames = new byte[1100];
        int p = 0;
        for (int i = 0; i < 200; i++)
            p += new CryptoFrame(1000 + 2 * (ulong)i, new byte[] { 0x16 }).Write(frames.AsSpan(p));
        var datagram = ClientInitials.Seal(destination, source, 0, frames.AsSpan(0, p), paddedPayload: 1170);
        Assert.True(datagram.Length >= 1200);
        server.OnDatagram(datagram, 1_000_000);

        Assert.Equal(ConnectionPhase.Closing, server.Phase);
        Assert.Equal((ulong)QuicTransportError.CryptoBufferExceeded, server.CloseInfo!.Value.ErrorCode);
    }

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 LoopbackCertificate() => Api.LoopbackPair.Certificate.Value;
}
