using Xunit;
using System.Runtime.InteropServices;
using FastRelay.Bpf;

namespace FastRelay.Tests.Runtime;

[Collection(BpfCollection.Name)]
public sealed class RingBufferReaderTests(CompiledFixtures fixtures)
{
    private static readonly byte[] Tag = [0x02, 0, 0, 0, 0, 1];

    [BpfFact]
    public void Events_written_by_test_runs_are_read_back_byte_for_byte()
    {
        using var obj = BpfObject.Load(fixtures.Object(CompiledFixtures.Runtime));
        obj.Map("fx_records").Update(10u, FxRecord.Create(1, 100, 1, Tag));
        obj.Map("fx_records").Update(20u, FxRecord.Create(2, 200, 2, Tag));
        var received = new List<byte[]>();
        using var reader = new RingBufferReader(obj.Map("fx_events"), record => received.Add(record.ToArray()));
        var prog = obj.Program("fx_classify");

        prog.TestRun(FixtureLayouts.Packet(10, 64), new SkbContext { Mark = 0xabc, Priority = 5, Cb = [77] });
        prog.TestRun(FixtureLayouts.Packet(99, 64)); // unknown key: no event
        prog.TestRun(FixtureLayouts.Packet(20, 80), new SkbContext { Mark = 1 });
        prog.TestRun(FixtureLayouts.Packet(10, 100));

        // BPF_RB_NO_WAKEUP: nothing wakes a poller, so the reader consumes in a batch.
        Assert.Equal(3, reader.Consume());
        Assert.Equal(0, reader.Consume());

        FxEvent[] expected =
        [
            new() { Key = 10, Mark = 0xabc, Priority = 5, Cb0 = 77, Len = 64, RecordId = 100 },
            new() { Key = 20, Mark = 1, Len = 80, RecordId = 200 },
            new() { Key = 10, Len = 100, RecordId = 100 },
        ];
        Assert.Equal(expected.Select(e => MemoryMarshal.AsBytes(new[] { e }.AsSpan()).ToArray()), received);
    }

    [BpfFact]
    public void Dispose_while_consuming_stops_delivery_and_frees_nothing_still_in_use()
    {
        // The relay's timer or shutdown can dispose the reader while another thread is inside Consume: the callback
        // context (a GCHandle) and the ring buffer must outlive the call in flight. Disposing from inside the handler is
        // that race made deterministic.
        using var obj = BpfObject.Load(fixtures.Object(CompiledFixtures.Runtime));
        obj.Map("fx_records").Update(10u, FxRecord.Create(1, 100, 1, Tag));
        for (var i = 0; i < 3; i++)
            obj.Program("fx_classify").TestRun(FixtureLayouts.Packet(10));
        RingBufferReader? reader = null;
        var calls = 0;
        reader = new RingBufferReader(obj.Map("fx_events"), _ =>
        {
            calls++;
            reader!.Dispose();
            GC.Collect(); // a freed callback handle would be found out here
            GC.WaitForPendingFinalizers();
        });

        reader.Consume();

        Assert.Equal(1, calls); // nothing more reaches a disposed reader
        Assert.Throws<ObjectDisposedException>(() => reader.Consume());
        reader.Dispose(); // again: nothing to free twice
    }

    [BpfFact]
    public void Poll_times_out_with_zero_and_handler_exceptions_surface_from_consume()
    {
        using var obj = BpfObject.Load(fixtures.Object(CompiledFixtures.Runtime));
        obj.Map("fx_records").Update(10u, FxRecord.Create(1, 100, 1, Tag));
        int calls = 0;
        using var reader = new RingBufferReader(obj.Map("fx_events"), _ =>
        {
            calls++;
            throw new InvalidDataException("bad record");
        });

        Assert.Equal(0, reader.Poll(TimeSpan.FromMilliseconds(10)));
        obj.Program("fx_classify").TestRun(FixtureLayouts.Packet(10));
        obj.Program("fx_classify").TestRun(FixtureLayouts.Packet(10));

        Assert.Throws<InvalidDataException>(() => reader.Consume());
        Assert.Equal(1, calls); // the batch stops at the failing record
    }

    [BpfFact]
    public void Reader_requires_a_ringbuf_map()
    {
        using var obj = BpfObject.Load(fixtures.Object(CompiledFixtures.Runtime));
        var e = Assert.Throws<ArgumentException>(() => new RingBufferReader(obj.Map("fx_records"), _ => { }));
        Assert.Contains("fx_records", e.Message);
    }
}
