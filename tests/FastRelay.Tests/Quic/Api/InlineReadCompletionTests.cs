using FastRelay.Protocols.Quic.Api;
using FastRelay.Tests.Infrastructure;
using Xunit;

namespace FastRelay.Tests.Quic.Api;

/// <summary>
/// <see cref="QuicStream.CompletesReadsOnReceiveThread"/>: a read that waited for data resumes on the listener's receive
/// thread (the thread <see cref="QuicListener.RunEveryTurn"/> work runs on), after the connection's lock was released;
/// without the opt-in it resumes elsewhere. A wake that does not come with received data (a local abort) still resumes
/// the read, on the thread pool.
/// </summary>
public sealed class InlineReadCompletionTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_waiting_read_resumes_on_the_receive_thread_only_when_asked(bool inline)
    {
        await using var pair = await LoopbackPair.StartAsync();
        var receiveThread = 0;
        using var probe = pair.Listener.RunEveryTurn(() => Volatile.Write(ref receiveThread, Environment.CurrentManagedThreadId));
        await Eventually.TrueAsync(() => Volatile.Read(ref receiveThread) != 0, "the listener's loop turns");

        var outbound = await pair.Client.OpenOutboundStreamAsync(QuicStreamType.Unidirectional);
        await outbound.WriteAsync(new byte[] { 1 });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var inbound = await pair.Server.AcceptInboundStreamAsync(timeout.Token);
        inbound.CompletesReadsOnReceiveThread = inline;
        var buffer = new byte[16];
        Assert.Equal(1, await inbound.ReadAsync(buffer, timeout.Token));

        for (var round = 0; round < 5; round++)
        {
            // Nothing to read: the read waits, and resumes when the next byte arrives.
            var read = ReadAndNoteThreadAsync(pair.Server, inbound, buffer, timeout.Token);
            await Task.Yield();
            await outbound.WriteAsync(new byte[] { (byte)(round + 2) });
            var (n, thread, lockHeld) = await read;
            Assert.Equal(1, n);
            Assert.Equal(round + 2, buffer[0]);
            Assert.False(lockHeld, "the reader resumed under the connection's lock");
            if (inline) Assert.Equal(Volatile.Read(ref receiveThread), thread);
            else Assert.NotEqual(Volatile.Read(ref receiveThread), thread);
        }

        // A wake without received data: a local abort resumes the waiting read with the error.
        var waiting = inbound.ReadAsync(buffer, timeout.Token).AsTask();
        inbound.Abort(QuicAbortDirection.Read, 7);
        await Assert.ThrowsAsync<QuicException>(() => waiting);
    }

    private static async Task<(int Read, int Thread, bool LockHeld)> ReadAndNoteThreadAsync(QuicConnection connection, QuicStream stream, byte[] buffer,
        CancellationToken cancellationToken)
    {
        var n = await stream.ReadAsync(buffer, cancellationToken);
        var thread = Environment.CurrentManagedThreadId;
        // Another thread takes the connection's lock (GetPathStatistics): it can only while this resumed reader does not
        // hold it. Waiting here blocks the receive thread for the test only, and only when the lock is held.
        var other = Task.Run(() => connection.GetPathStatistics());
        var lockHeld = !other.Wait(TimeSpan.FromSeconds(5));
        return (n, thread, lockHeld);
    }
}
