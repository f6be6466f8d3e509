namespace FastRelay.Protocols.Quic.Api;

/// <summary>A QUIC stream as a <see cref="Stream"/>, shaped like System.Net.Quic.QuicStream.</summary>
public sealed partial class QuicStream : Stream
{
    public long Id => throw new NotImplementedException();
    public QuicStreamType Type => throw new NotImplementedException();
    public bool CanBeAborted => true;
    /// <summary>Completes when the peer's FIN was read or the read side was aborted.</summary>
    public Task ReadsClosed => throw new NotImplementedException();
    /// <summary>Completes when everything written (and FIN) was acknowledged, or the write side was aborted.</summary>
    public Task WritesClosed => throw new NotImplementedException();

    public override bool CanRead => throw new NotImplementedException();
    public override bool CanWrite => throw new NotImplementedException();
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => throw new NotImplementedException();
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => throw new NotImplementedException();
    /// <summary>Writes and, when <paramref name="completeWrites"/> is set, ends the stream with FIN in the same call.</summary>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, bool completeWrites, CancellationToken cancellationToken = default) => throw new NotImplementedException();
    /// <summary>Sends FIN after what was written.</summary>
    public void CompleteWrites() => throw new NotImplementedException();
    /// <summary>RESET_STREAM (write) and/or STOP_SENDING (read) with an application error code.</summary>
    public void Abort(QuicAbortDirection direction, long errorCode) => throw new NotImplementedException();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override void Flush() { }
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
