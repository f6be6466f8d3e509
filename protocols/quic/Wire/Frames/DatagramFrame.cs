namespace FastRelay.Protocols.Quic.Wire.Frames;

/// <summary>
/// DATAGRAM (RFC 9221 §4): 0x30 data to the end of the packet, 0x31 with a Length field. Only valid after both sides
/// advertised max_datagram_frame_size (checked by the connection, PROTOCOL_VIOLATION otherwise).
/// </summary>
public readonly record struct DatagramFrame(ReadOnlyMemory<byte> Data, bool HasLength = true) : IQuicFrame<DatagramFrame>
{
    public ulong Type => HasLength ? FrameType.DatagramWithLength : FrameType.Datagram;
    public int EncodedLength => 1 + (HasLength ? FrameErrors.VarintLength((ulong)Data.Length) : 0) + Data.Length;

    public static bool TryRead(ref QuicReader reader, ulong frameType, out DatagramFrame frame, out QuicError error)
    {
        bool hasLength = frameType == FrameType.DatagramWithLength;
        ReadOnlyMemory<byte> data;
        if (hasLength)
        {
            if (!reader.TryReadVarintPrefixedBytes(out data)) return FrameErrors.Truncated(frameType, out frame, out error);
        }
        else
        {
            data = reader.ReadToEnd();
        }
        return FrameErrors.Ok(new DatagramFrame(data, hasLength), out frame, out error);
    }

    public int Write(Span<byte> destination)
    {
        var w = new QuicWriter(destination);
        w.WriteVarint(Type);
        if (HasLength) w.WriteVarint((ulong)Data.Length);
        w.WriteBytes(Data.Span);
        return w.Position;
    }
}
