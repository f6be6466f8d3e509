using FastRelay.Protocols.Moq.Transport;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Messages;

namespace FastRelay.Protocols.Moq.Session;

/// <summary>A bidirectional request stream: serialized message writes, message reads, cancellation.</summary>
internal sealed class MoqRequestStream
{
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private bool _finSent;
    private bool _goAwayReceived;

    public MoqRequestStream(IMoqStream stream, int maxBuffered)
    {
        Stream = stream;
        Reader = new MoqStreamReader(stream, maxBuffered);
    }

    public IMoqStream Stream { get; }
    public MoqStreamReader Reader { get; }

    public async Task WriteAsync(MoqControlMessage message, bool fin = false, CancellationToken cancellationToken = default)
    {
        byte[] bytes = message.Encode();
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_finSent) throw new InvalidOperationException("the request stream was already finished");
            await Stream.WriteAsync(bytes, fin, cancellationToken).ConfigureAwait(false);
            _finSent |= fin;
        }
        finally { _writeLock.Release(); }
    }

    public async Task FinishAsync()
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_finSent) return;
            _finSent = true;
            Stream.CompleteWrites();
        }
        finally { _writeLock.Release(); }
    }

    /// <summary>Reads the next message; a second GOAWAY on one request stream is PROTOCOL_VIOLATION.</summary>
    public async ValueTask<MoqControlMessage?> ReadAsync(CancellationToken cancellationToken)
    {
        var message = await Reader.ReadMessageAsync(cancellationToken).ConfigureAwait(false);
        if (message is MoqGoAway)
        {
            if (_goAwayReceived) throw new MoqProtocolException(MoqError.Protocol("second GOAWAY on a request stream"));
            _goAwayReceived = true;
        }
        return message;
    }

    /// <summary>Abandons the request both ways (RESET_STREAM + STOP_SENDING), §"Request Cancellation and Rejection".</summary>
    public void Cancel(MoqStreamResetCode code = MoqStreamResetCode.Cancelled)
    {
        Stream.Reset((ulong)code);
        Stream.StopSending((ulong)code);
    }
}
