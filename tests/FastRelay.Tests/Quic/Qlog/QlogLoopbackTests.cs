using FastRelay.Protocols.Quic.Api;
using FastRelay.Tests.Quic.Api;
using Xunit;

namespace FastRelay.Tests.Quic.Qlog;

/// <summary>QuicConnectionOptions.QlogDirectory over real sockets: one file per connection and end, named by ODCID.</summary>
public sealed class QlogLoopbackTests
{
    [Fact]
    public async Task Client_and_server_each_write_their_file_with_the_transfer_and_the_close_code()
    {
        string dir = Path.Combine(Path.GetTempPath(), "fastrelay-qlog-" + Guid.NewGuid().ToString("N"));
        try
        {
            const int length = 100_000;
            var payload = new byte[length];
            new Random(9).NextBytes(payload);
            await using (var pair = await LoopbackPair.StartAsync(client: o => o.QlogDirectory = dir, server: o => o.QlogDirectory = dir))
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                var clientStream = await pair.Client.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, timeout.Token);
                await clientStream.WriteAsync(payload, completeWrites: true, timeout.Token);
                var serverStream = await pair.Server.AcceptInboundStreamAsync(timeout.Token);
                var received = new MemoryStream();
                await serverStream.CopyToAsync(received, timeout.Token);
                Assert.Equal(length, received.Length);
                await pair.Client.CloseAsync(0x77, timeout.Token);
                await pair.Server.Closed.WaitAsync(timeout.Token);
            }

            var files = Directory.GetFiles(dir).Select(Path.GetFileName).Order().ToList();
            Assert.Equal(2, files.Count);
            Assert.EndsWith("_client.sqlog", files[0]);
            Assert.EndsWith("_server.sqlog", files[1]);
            string odcid = files[0]![..files[0]!.IndexOf('_')];
            Assert.Equal(odcid + "_server.sqlog", files[1]);
            Assert.Equal(16, odcid.Length);

            var client = QlogReader.Parse(File.ReadAllBytes(Path.Combine(dir, files[0]!)));
            var server = QlogReader.Parse(File.ReadAllBytes(Path.Combine(dir, files[1]!)));
            foreach (var qlog in new[] { client, server })
                Assert.Equal(odcid, qlog.Header.GetProperty("trace").GetProperty("common_fields").GetProperty("ODCID").GetString());

            ulong streamBytes = client.Named("transport:packet_sent").SelectMany(QlogReader.Frames)
                .Where(f => f.GetProperty("frame_type").GetString() == "stream" && f.GetProperty("stream_id").GetUInt64() == (ulong)0)
                .Aggregate(0UL, (s, f) => s + f.GetProperty("length").GetUInt64());
            // Loopback may still drop or reorder: at least the payload, retransmissions on top.
            Assert.True(streamBytes >= length, $"{streamBytes} stream bytes sent");

            var local = QlogReader.Data(Assert.Single(client.Named("connectivity:connection_closed")));
            Assert.Equal(0x77UL, local.GetProperty("application_code").GetUInt64());
            Assert.Equal("local", local.GetProperty("owner").GetString());
            var remote = QlogReader.Data(Assert.Single(server.Named("connectivity:connection_closed")));
            Assert.Equal(0x77UL, remote.GetProperty("application_code").GetUInt64());
            Assert.Equal("remote", remote.GetProperty("owner").GetString());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
