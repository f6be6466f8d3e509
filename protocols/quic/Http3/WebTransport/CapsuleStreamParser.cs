namespace FastRelay.Protocols.Quic.Http3.WebTransport;

/// <summary>One capsule the session acts on (CLOSE, DRAIN or DATAGRAM), with its payload (empty for DRAIN).</summary>
public readonly record struct ReceivedCapsule(ulong Type, byte[] Payload);

/// <summary>
/// Incremental capsule parser over the CONNECT stream's body (the concatenated DATA frame payloads, which may split a
/// capsule anywhere). Memory is bounded whatever the peer sends: a header is at most 16 bytes, WT_CLOSE_SESSION at
/// most 1028 bytes (longer is H3_MESSAGE_ERROR), a DATAGRAM capsule at most <see cref="MaxDatagramCapsule"/> (longer
/// ones are skipped), and every other type — unknown ones, DRAIN's (meaningless) payload, the flow-control capsules
/// we never enabled — is skipped by length without being stored.
/// </summary>
public sealed class CapsuleStreamParser
{
    public const int MaxDatagramCapsule = 65535;

    private readonly byte[] _header = new byte[16];
    private int _headerLength;
    private bool _inPayload;
    private ulong _type;
    private long _remaining;
    private byte[]? _payload; // null while skipping
    private int _payloadLength;
    private bool _report;

    /// <summary>Whether the input ended at a capsule boundary (a FIN elsewhere is a truncated capsule).</summary>
    public bool AtBoundary => !_inPayload && _headerLength == 0;

    public bool TryFeed(ReadOnlySpan<byte> data, List<ReceivedCapsule> completed, out Http3Error error)
    {
        error = Http3Error.None;
        while (true)
        {
            if (!_inPayload)
            {
                if (data.IsEmpty) return true;
                int take = Math.Min(data.Length, _header.Length - _headerLength);
                data[..take].CopyTo(_header.AsSpan(_headerLength));
                int before = _headerLength;
                _headerLength += take;
                if (Capsule.TryReadHeader(_header.AsSpan(0, _headerLength), out var header) == Http3ParseStatus.NeedMoreData)
                {
                    data = data[take..]; // all consumed; 16 bytes always hold two varints, so more input completes it
                    continue;
                }
                data = data[(header.HeaderLength - before)..];
                _headerLength = 0;
                if (!StartPayload(header, out error)) return false;
            }
            int chunk = (int)Math.Min(_remaining, data.Length);
            if (_payload is not null)
                data[..chunk].CopyTo(_payload.AsSpan(_payloadLength));
            _payloadLength += chunk;
            _remaining -= chunk;
            data = data[chunk..];
            if (_remaining > 0) return true; // the rest comes in later DATA frames
            if (_report) completed.Add(new ReceivedCapsule(_type, _payload ?? []));
            _inPayload = false;
            _payload = null;
        }
    }

    private bool StartPayload(CapsuleHeader header, out Http3Error error)
    {
        error = Http3Error.None;
        _type = header.Type;
        _remaining = header.Length;
        _payloadLength = 0;
        _payload = null;
        _report = false;
        _inPayload = true;
        switch (header.Type)
        {
            case CapsuleType.CloseSession:
                if (header.Length > Capsule.MaxClosePayload)
                {
                    error = new Http3Error(Http3ErrorCode.MessageError, "WT_CLOSE_SESSION longer than 1028 bytes");
                    return false;
                }
                _payload = new byte[header.Length];
                _report = true;
                break;
            case CapsuleType.DrainSession:
                _report = true; // its payload, if any, is skipped: the capsule itself is the signal
                break;
            case CapsuleType.Datagram when header.Length <= MaxDatagramCapsule:
                _payload = new byte[header.Length];
                _report = true;
                break;
        }
        return true;
    }
}
