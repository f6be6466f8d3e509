using FastRelay.Protocols.Quic.Recovery;
using FastRelay.Protocols.Quic.Wire;
using FastRelay.Protocols.Quic.Wire.Frames;

namespace FastRelay.Protocols.Quic.Connection;

/// <summary>Why <see cref="QuicConnectionCore.TryQueueDatagram"/> refused a datagram.</summary>
public enum DatagramSendResult
{
    Queued,
    /// <summary>The peer did not advertise max_datagram_frame_size, or the handshake has not told us yet.</summary>
    NotNegotiated,
    /// <summary>Larger than the peer's max_datagram_frame_size or than one packet can carry.</summary>
    TooLarge,
    /// <summary>The send queue is full (congestion control is holding packets back): the datagram is dropped.</summary>
    QueueFull,
    /// <summary>The connection is closing or closed.</summary>
    Closed,
}

// DATAGRAM frames (RFC 9221) in both directions. Both queues are bounded: datagrams are unreliable by contract, so
// under congestion the newest outbound one is refused (the caller learns it at once) and when the application reads
// too slowly the oldest inbound one is dropped. Nothing here is retransmitted (§5.2).
public sealed partial class QuicConnectionCore
{
    /// <summary>Outbound datagrams waiting for congestion window; beyond this they are refused, never queued.</summary>
    public const int MaxQueuedOutboundDatagrams = 64;
    /// <summary>Inbound datagrams the application has not taken yet; beyond this the oldest is dropped.</summary>
    public const int MaxQueuedInboundDatagrams = 256;

    private readonly Queue<byte[]> _datagramsOut = new();
    private readonly Queue<byte[]> _datagramsIn = new();

    /// <summary>Inbound datagrams dropped because the application did not read them in time (oldest first).</summary>
    public long InboundDatagramsDropped { get; private set; }

    /// <summary>
    /// Largest datagram payload we can send now: bounded by the peer's max_datagram_frame_size (which counts the frame
    /// type and length, RFC 9221 §3) and by what one short-header packet of the current size carries. 0 when the peer
    /// takes no datagrams (or its transport parameters are not known yet).
    /// </summary>
    public int MaxDatagramPayload
    {
        get
        {
            if (_peerParameters?.MaxDatagramFrameSize is not { } peerMax || peerMax == 0) return 0;
            // Short header: first byte + destination id + packet number; then the AEAD tag (also kept for plaintext
            // 1-RTT: the budget must not change with a per-connection option).
            int packetRoom = MaxDatagramSize - (1 + _cids.Destination.Length + PacketNumberLength) - Crypto.PacketProtection.TagLength;
            int frameRoom = (int)Math.Min((ulong)packetRoom, peerMax);
            // Frame type (1 byte) + Length varint (2 bytes covers anything a packet can hold).
            return Math.Max(0, frameRoom - 1 - 2);
        }
    }

    /// <summary>Queues one datagram for the next packets; copies <paramref name="payload"/>.</summary>
    public DatagramSendResult TryQueueDatagram(ReadOnlySpan<byte> payload)
    {
        if (Phase is not (ConnectionPhase.Handshaking or ConnectionPhase.Established)) return DatagramSendResult.Closed;
        int max = MaxDatagramPayload;
        if (max == 0) return DatagramSendResult.NotNegotiated;
        if (payload.Length > max) return DatagramSendResult.TooLarge;
        if (_datagramsOut.Count >= MaxQueuedOutboundDatagrams) return DatagramSendResult.QueueFull;
        _datagramsOut.Enqueue(payload.ToArray());
        return DatagramSendResult.Queued;
    }

    /// <summary>The oldest received datagram the application has not taken yet.</summary>
    public bool TryDequeueReceivedDatagram(out byte[] payload) => _datagramsIn.TryDequeue(out payload!);

    public int ReceivedDatagramCount => _datagramsIn.Count;

    private bool HasDatagramsToSend => _datagramsOut.Count > 0;

    private QuicError OnDatagramFrame(in DatagramFrame frame)
    {
        if ((ulong)frame.EncodedLength > (_localParameters.MaxDatagramFrameSize ?? 0))
            return QuicError.Protocol("DATAGRAM larger than our max_datagram_frame_size", FrameType.Datagram);
        // The frame points into the decrypted packet, which the endpoint reuses: keep a copy.
        if (_datagramsIn.Count >= MaxQueuedInboundDatagrams)
        {
            _datagramsIn.Dequeue();
            InboundDatagramsDropped++;
        }
        _datagramsIn.Enqueue(frame.Data.ToArray());
        _events.Enqueue(ConnectionEventKind.DatagramReceived);
        return default;
    }

    /// <summary>Packs queued datagrams that fit whole into the packet being built (a DATAGRAM is never split).</summary>
    private int WriteDatagramFrames(Span<byte> frames, SentPacket record)
    {
        int written = 0;
        while (_datagramsOut.TryPeek(out var next))
        {
            var frame = new DatagramFrame(next, HasLength: true);
            if (frame.EncodedLength > frames.Length - written) break; // waits for the next packet, which has room
            written += frame.Write(frames[written..]);
            record.Frames.Add(new SentFrame(FrameType.DatagramWithLength));
            _datagramsOut.Dequeue();
        }
        return written;
    }
}
