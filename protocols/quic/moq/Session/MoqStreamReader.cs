using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Messages;

namespace FastRelay.Protocols.Moq.Session;

/// <summary>
/// Buffers what arrives on one stream so parsers can see whole messages and objects. The buffer grows only to what a
/// parser has asked for, and never beyond its bound: a peer cannot make it hold more than one message or object.
/// </summary>
internal sealed class MoqStreamReader(IMoqStream stream, int maxBuffered, MoqBufferBudget? budget = null) : IDisposable
{
    // The first 4 KiB are not charged to the budget: every stream needs that much to say what it is.
    private const int FreeBytes = 4096;
    private byte[] _buffer = new byte[Math.Min(FreeBytes, maxBuffered)];
    private int _start, _end, _charged;
    private long _received;

    /// <summary>Sees every byte read from the stream, with its stream offset (a subgroup tap); null: none.</summary>
    public IMoqSubgroupStreamTap? Tap { get; set; }

    /// <summary>Bytes read from the stream so far: the stream offset of the next byte.</summary>
    public long Received => _received;

    public IMoqStream Stream => stream;
    public bool IsFinished { get; private set; }
    public ReadOnlyMemory<byte> Buffered => _buffer.AsMemory(_start, _end - _start);
    public int Count => _end - _start;

    public void Consume(int count) => _start += count;

    /// <summary>Reads until at least <paramref name="total"/> bytes are buffered; false if the stream ended first.</summary>
    public async ValueTask<bool> FillAsync(int total, CancellationToken cancellationToken)
    {
        if (total > maxBuffered) throw new MoqProtocolException(MoqError.Protocol("stream item larger than the local buffer limit"));
        while (Count < total)
        {
            if (IsFinished) return false;
            if (_buffer.Length - _start < total)
            {
                // Compact, and grow when the item cannot fit at all.
                var target = _buffer.Length >= total ? _buffer : Grow(Math.Min(maxBuffered, Math.Max(total, _buffer.Length * 2)));
                Buffer.BlockCopy(_buffer, _start, target, 0, Count);
                _end -= _start;
                _start = 0;
                _buffer = target;
            }
            int n = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (n == 0) IsFinished = true;
            else
            {
                Tap?.OnBytes(_received, _buffer.AsSpan(_end, n));
                _received += n;
            }
            _end += n;
        }
        return true;
    }

    private byte[] Grow(int size)
    {
        int charge = Math.Max(0, size - FreeBytes) - _charged;
        if (budget is not null && charge > 0 && !budget.TryTake(charge)) throw new MoqBufferBudgetException();
        _charged += Math.Max(0, charge);
        return new byte[size];
    }

    /// <summary>Returns this stream's share of the session budget.</summary>
    public void Dispose()
    {
        budget?.Release(_charged);
        _charged = 0;
    }

    /// <summary>Reads more bytes (at least one) unless the stream ended; false at the end.</summary>
    public ValueTask<bool> FillMoreAsync(CancellationToken cancellationToken) => FillAsync(Count + 1, cancellationToken);

    /// <summary>
    /// The next control message, or null at a clean end of stream. A stream that ends inside a message, an unknown
    /// type or a malformed body throws <see cref="MoqProtocolException"/>.
    /// </summary>
    public async ValueTask<MoqControlMessage?> ReadMessageAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var status = MoqControlMessageCodec.TryReadFrame(Buffered.Span, out var type, out int header, out int body, out var error);
            if (status == MoqParseStatus.Malformed) throw new MoqProtocolException(error);
            if (status == MoqParseStatus.Complete)
            {
                // Copy the body: the message may keep slices of it after this buffer moves on.
                byte[] owned = Buffered.Slice(header, body).ToArray();
                Consume(header + body);
                if (!MoqControlMessageCodec.TryParseBody(type, owned, out var message, out error)) throw new MoqProtocolException(error);
                return message;
            }
            int want = header > 0 ? header + body : Count + 1;
            if (!await FillAsync(want, cancellationToken).ConfigureAwait(false))
            {
                if (Count == 0) return null;
                throw new MoqProtocolException(MoqError.Protocol("stream ended inside a control message"));
            }
        }
    }
}
