namespace FastRelay.Protocols.Moq.Wire.Messages;

/// <summary>
/// A control message: Type (varint), Length (16 bits), Body. Each message type is a record deriving from this;
/// <see cref="MoqControlMessageCodec"/> turns bytes into them.
/// </summary>
public abstract record MoqControlMessage
{
    public abstract MoqMessageType Type { get; }

    /// <summary>Writes the body only (no type, no length).</summary>
    public abstract void WriteBody(MoqWriter writer);

    /// <summary>Writes Type, Length and Body; throws if the body exceeds 65535 bytes (our own bug).</summary>
    public void Write(MoqWriter writer)
    {
        writer.WriteVarint((ulong)Type);
        int at = writer.BeginUInt16Length();
        WriteBody(writer);
        writer.EndUInt16Length(at);
    }

    public byte[] Encode()
    {
        var w = new MoqWriter();
        Write(w);
        return w.ToArray();
    }
}

/// <summary>A message that opens a request or updates one; it carries a Request ID.</summary>
public interface IMoqRequestMessage
{
    ulong RequestId { get; }
}

/// <summary>Frames and decodes control messages.</summary>
public static class MoqControlMessageCodec
{
    /// <summary>
    /// Looks for one whole message at the start of <paramref name="buffered"/>. NeedMoreData when the header or body is
    /// not all there yet (at most 65535 + 11 bytes ever need buffering); Malformed for an unknown type.
    /// </summary>
    public static MoqParseStatus TryReadFrame(ReadOnlySpan<byte> buffered, out MoqMessageType type, out int headerLength, out int bodyLength, out MoqError error)
    {
        type = 0; headerLength = 0; bodyLength = 0; error = MoqError.None;
        if (!MoqVarint.TryRead(buffered, out ulong rawType, out int typeLength)) return MoqParseStatus.NeedMoreData;
        if (!MoqMessageTypes.IsKnown(rawType)) { error = MoqError.Protocol("unknown control message type"); return MoqParseStatus.Malformed; }
        if (buffered.Length < typeLength + 2) return MoqParseStatus.NeedMoreData;
        type = (MoqMessageType)rawType;
        bodyLength = buffered[typeLength] << 8 | buffered[typeLength + 1];
        headerLength = typeLength + 2;
        return buffered.Length < headerLength + bodyLength ? MoqParseStatus.NeedMoreData : MoqParseStatus.Complete;
    }

    /// <summary>
    /// Decodes a body. The body must be exactly consumed (a length that does not match is PROTOCOL_VIOLATION).
    /// Byte fields of the result may slice <paramref name="body"/>, so pass memory the message may keep.
    /// </summary>
    public static bool TryParseBody(MoqMessageType type, ReadOnlyMemory<byte> body, out MoqControlMessage message, out MoqError error)
    {
        var r = new MoqReader(body);
        message = null!;
        bool ok = type switch
        {
            MoqMessageType.Setup => Parse<MoqSetup>(MoqSetup.TryParseBody(ref r, out var m1, out error), m1, out message),
            MoqMessageType.GoAway => Parse<MoqGoAway>(MoqGoAway.TryParseBody(ref r, out var m2, out error), m2, out message),
            MoqMessageType.Subscribe => Parse<MoqSubscribe>(MoqSubscribe.TryParseBody(ref r, out var m3, out error), m3, out message),
            MoqMessageType.SubscribeOk => Parse<MoqSubscribeOk>(MoqSubscribeOk.TryParseBody(ref r, out var m4, out error), m4, out message),
            MoqMessageType.RequestUpdate => Parse<MoqRequestUpdate>(MoqRequestUpdate.TryParseBody(ref r, out var m5, out error), m5, out message),
            MoqMessageType.Publish => Parse<MoqPublish>(MoqPublish.TryParseBody(ref r, out var m6, out error), m6, out message),
            MoqMessageType.PublishDone => Parse<MoqPublishDone>(MoqPublishDone.TryParseBody(ref r, out var m7, out error), m7, out message),
            MoqMessageType.Fetch => Parse<MoqFetch>(MoqFetch.TryParseBody(ref r, out var m8, out error), m8, out message),
            MoqMessageType.FetchOk => Parse<MoqFetchOk>(MoqFetchOk.TryParseBody(ref r, out var m9, out error), m9, out message),
            MoqMessageType.TrackStatus => Parse<MoqTrackStatus>(MoqTrackStatus.TryParseBody(ref r, out var m10, out error), m10, out message),
            MoqMessageType.PublishNamespace => Parse<MoqPublishNamespace>(MoqPublishNamespace.TryParseBody(ref r, out var m11, out error), m11, out message),
            MoqMessageType.Namespace => Parse<MoqNamespace>(MoqNamespace.TryParseBody(ref r, out var m12, out error), m12, out message),
            MoqMessageType.NamespaceDone => Parse<MoqNamespaceDone>(MoqNamespaceDone.TryParseBody(ref r, out var m13, out error), m13, out message),
            MoqMessageType.SubscribeNamespace => Parse<MoqSubscribeNamespace>(MoqSubscribeNamespace.TryParseBody(ref r, out var m14, out error), m14, out message),
            MoqMessageType.SubscribeTracks => Parse<MoqSubscribeTracks>(MoqSubscribeTracks.TryParseBody(ref r, out var m15, out error), m15, out message),
            MoqMessageType.PublishSkipped => Parse<MoqPublishSkipped>(MoqPublishSkipped.TryParseBody(ref r, out var m16, out error), m16, out message),
            MoqMessageType.RequestOk => Parse<MoqRequestOk>(MoqRequestOk.TryParseBody(ref r, out var m17, out error), m17, out message),
            MoqMessageType.RequestError => Parse<MoqRequestError>(MoqRequestError.TryParseBody(ref r, out var m18, out error), m18, out message),
            _ => Fail(out error),
        };
        if (!ok) { message = null!; return false; }
        if (!r.IsEnd) { message = null!; error = MoqError.Protocol("control message length does not match its body"); return false; }
        return true;
    }

    /// <summary>Frame + body in one go, for a buffer holding exactly one whole message (tests, datagram-like uses).</summary>
    public static bool TryParse(ReadOnlyMemory<byte> bytes, out MoqControlMessage message, out int consumed, out MoqError error)
    {
        message = null!;
        consumed = 0;
        var status = TryReadFrame(bytes.Span, out var type, out int header, out int body, out error);
        if (status == MoqParseStatus.NeedMoreData) { error = MoqError.Protocol("truncated control message"); return false; }
        if (status == MoqParseStatus.Malformed) return false;
        if (!TryParseBody(type, bytes.Slice(header, body), out message, out error)) return false;
        consumed = header + body;
        return true;
    }

    private static bool Parse<T>(bool ok, T? parsed, out MoqControlMessage message) where T : MoqControlMessage
    {
        message = parsed!;
        return ok;
    }

    private static bool Fail(out MoqError error)
    {
        error = MoqError.Protocol("unknown control message type");
        return false;
    }

    /// <summary>Track Properties: the rest of the message as Key-Value-Pairs.</summary>
    internal static bool TryReadTrackProperties(ref MoqReader r, out List<MoqKeyValuePair> properties, out MoqError error)
    {
        properties = new List<MoqKeyValuePair>();
        return MoqKeyValueList.TryParse(ref r, properties, out error);
    }
}
