using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using FastRelay.Cli.Lab;
using FastRelay.Tests.Infrastructure;
using FastRelay.Tests.Lab;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.GenericRelay;

/// <summary>
/// README walkthrough step 5 with the walkthrough's own descriptor (tick_feed, tests/SampleProtocol): the generic
/// host fills what this descriptor needs beyond RTP: stream mappings (a stream the configuration does not list is not
/// forwarded, a listed one is renamed), each subscriber's own connection id, and per-subscriber renumbering.
/// Ticks come from a generator that writes the README's layout byte by byte.
/// </summary>
[Collection(EndToEnd.EndToEndCollection.Name)]
public sealed class WalkthroughRelayLabTests(ITestOutputHelper output)
{
    private const uint Instrument = 7;
    private const int Port = 9100, SenderPort = 41000, ReceiverPort = 9200, Ticks = 300;

    [LabFact(needsClang: true)]
    public async Task Tick_feed_copies_carry_the_mapped_stream_each_subscribers_connection_id_and_its_own_numbering()
    {
        var prefix = "frgn" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(2));
        await using var lab = await LabTopology.UpAsync(new LabOptions { Prefix = prefix, Subscribers = 2, RelayInterfaces = 1 });
        var work = Directory.CreateTempSubdirectory("frgn-tick-").FullName;
        var receivers = lab.Subscribers.Select(s => new UdpCollector(lab.UdpSocket(s, AddressFamily.InterNetwork, ReceiverPort), s.Name)).ToList();
        var relayAddress = lab.RelayUpstream.IPv4;
        try
        {
            var config = Path.Combine(work, "relay.json");
            File.WriteAllText(config, JsonSerializer.Serialize(new
            {
                sequence = "renumber",
                channels = new[]
                {
                    new
                    {
                        id = Instrument,
                        upstream = new IPEndPoint(lab.Publisher.IPv4, SenderPort).ToString(),
                        streams = new Dictionary<string, ulong> { ["1"] = 100 }, // stream 2 is not listed
                        subscribers = receivers.Select((r, i) => new { address = r.Endpoint.ToString(), connectionId = $"c1d0000{i}" }).ToArray(),
                    },
                },
            }));
            await using var relay = await GenericRelayProcess.StartAsync(lab, "--assembly", typeof(SampleProtocol.TickHeader).Assembly.Location, "--config", config);
            try
            {
                using var sender = lab.UdpSocket(lab.Publisher, new IPEndPoint(lab.Publisher.IPv4, SenderPort));
                for (var i = 0; i < Ticks; i++)
                {
                    sender.SendTo(Tick(stream: (ushort)(i % 3 == 2 ? 2 : 1), sequence: 5000UL + (ulong)i), new IPEndPoint(relayAddress, Port));
                    if (i % 50 == 49)
                        await Task.Delay(5); // a burst at a time: the receivers' buffers are not the subject here
                }
                var expected = Enumerable.Range(0, Ticks).Count(i => i % 3 != 2);
                await Eventually.TrueAsync(() => receivers.All(r => r.Count >= expected), "every stream-1 tick at every subscriber", TimeSpan.FromSeconds(20));
            }
            finally
            {
                output.WriteLine(await relay.StopAsync());
            }

            foreach (var (receiver, index) in receivers.Select((r, i) => (r, i)))
            {
                var got = receiver.Snapshot();
                Assert.Equal(Enumerable.Range(0, Ticks).Count(i => i % 3 != 2), got.Count);
                for (var n = 0; n < got.Count; n++)
                {
                    var d = got[n];
                    Assert.Equal(0xFEED, BinaryPrimitives.ReadUInt16LittleEndian(d));
                    Assert.Equal(new byte[] { 0xC1, 0xD0, 0x00, (byte)index }, d.AsSpan(4, 4).ToArray());            // its own connection id
                    Assert.Equal(Instrument, BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(8)));
                    Assert.Equal(100, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(12)));                           // stream 1 → 100
                    Assert.Equal((ulong)n, BinaryPrimitives.ReadUInt64LittleEndian(d.AsSpan(15)));                  // renumbered from 0
                    var publisherSequence = BinaryPrimitives.ReadUInt64LittleEndian(d.AsSpan(24));                 // the payload names it
                    Assert.Equal(5000UL + (ulong)(n / 2 * 3 + n % 2), publisherSequence);                          // in order, none of stream 2
                }
            }
        }
        finally
        {
            foreach (var receiver in receivers)
                receiver.Dispose();
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>The README's tick layout with priority 7 and a fixed connection id; the payload carries the sequence again.</summary>
    private static byte[] Tick(ushort stream, ulong sequence) =>
        TickDatagram.Build(Instrument, sequence, stream, priority: 7, connectionId: 0xAAAAAAAA, length: TickDatagram.HeaderLength + 16);
}
