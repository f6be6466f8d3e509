using FastRelay.Protocols.Quic.Crypto;
using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Protocols.Quic.Connection;

// Path MTU discovery (RFC 9000 §14.3, RFC 8899): once the handshake is confirmed and the path validated, a probe —
// one 1-RTT packet of exactly the probe size, PING + PADDING — goes out as its own datagram when PathMtuDiscovery asks for
// one and congestion control allows it; its acknowledgement raises the datagram size, its loss is not congestion.
public sealed partial class QuicConnectionCore
{
    private readonly PathMtuDiscovery _pmtu;

    /// <summary>Largest UDP payload confirmed for the path (the size packets are built to).</summary>
    public int PathMtu => MaxDatagramSize;
    public PathMtuDiscovery PathMtuDiscovery => _pmtu;

    /// <summary>
    /// A probe is due but the window has no room for it yet: new stream data waits (ACKs still go) until bytes in flight
    /// drop enough — otherwise full-sized data packets would take every opening of a saturated window and starve probes.
    /// Only when the window could ever hold the probe, so data never waits for nothing.
    /// </summary>
    private bool _probeWaitsForWindow;

    private bool TryWritePathMtuProbe(Span<byte> destination, long now, out int length)
    {
        length = 0;
        _probeWaitsForWindow = false;
        var space = _spaces[2];
        if (!_handshakeConfirmed || !_pathValidated || !space.CanSend || !_pmtu.IsEnabled) return false;
        if (!_pmtu.TryGetProbeSize(now, out int size)) return false;
        // A probe larger than the window still goes when nothing is in flight: one packet cannot congest the path, and an
        // end that sends little (a server that mostly acknowledges) would otherwise never grow a window big enough.
        if (size > destination.Length || !_cc.CanSend(size) && _cc.BytesInFlight > 0)
        {
            _probeWaitsForWindow = size <= destination.Length && _cc.CongestionWindow >= size + 2L * MaxDatagramSize;
            _pmtu.CancelProbe();
            return false;
        }
        var keys = _plaintextOneRtt ? null : space.WriteKeys;
        ReserveOneRttNumber(space);
        ulong packetNumber = space.NextPacketNumber++;
        var buffer = destination[..size];
        int headerLength = PacketHeaderWriter.WriteShortHeader(buffer, _cids.Destination.Span, packetNumber, PacketNumberLength, space.WriteKeys!.KeyPhase);
        int payload = size - headerLength - (keys is null ? 0 : PacketProtection.TagLength);
        buffer[headerLength] = (byte)FrameType.Ping;
        buffer.Slice(headerLength + 1, payload - 1).Clear(); // PADDING
        var record = _loss.RentPacket();
        record.PacketNumber = packetNumber;
        record.Space = PacketNumberSpace.ApplicationData;
        record.AckEliciting = true;
        record.IsPathMtuProbe = true;
        record.Frames.Add(new SentFrame(FrameType.Ping));
        var packet = new PendingPacket
        {
            Start = 0, HeaderLength = headerLength, PayloadLength = payload, LongHeader = false, Keys = keys, Record = record,
            Space = PacketNumberSpace.ApplicationData,
        };
        TracePacketSent(destination, packet, PacketNumberSpace.ApplicationData);
        length = SealPacket(destination, packet);
        record.Size = length;
        record.InFlight = true;
        RecordSent(record, now);
        _bytesSent += length;
        return true;
    }
}
