using System.Net;
using System.Net.Sockets;
using Xunit;

namespace FastRelay.Tests.CustomUdp;

/// <summary>The relay's recvmmsg/sendmmsg batches own native memory: disposing one twice used to free it twice (glibc
/// aborts the process on that, or worse, frees a block someone else got in between).</summary>
public sealed class BatchDisposeTests
{
    private static IDisposable Create(string type, params object[] arguments) =>
        (IDisposable)Activator.CreateInstance(typeof(FastRelay.Relay.UserspaceFanOut).Assembly.GetType(
                type == "SendBatch" ? "FastRelay.Relay.SendBatch" : $"FastRelay.Net.{type}", throwOnError: true)!,
            System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic,
            null, arguments, null)!;

    [Fact]
    public void Receive_and_send_batches_can_be_disposed_twice()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        foreach (var batch in new[] { Create("ReceiveBatch", socket), Create("SendBatch", socket, 8, 16) })
        {
            batch.Dispose();
            batch.Dispose();
        }
        // Allocate and free a little so that a double free, if any slipped through, meets the allocator now.
        for (var i = 0; i < 100; i++)
            Create("SendBatch", socket, 8, 16).Dispose();
    }
}
