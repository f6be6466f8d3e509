using FastRelay.Fuzz.Targets;
using SharpFuzz;

// fastrelay-fuzz TARGET: runs TARGET under afl-fuzz (SharpFuzz's in-process fork-server loop); outside afl-fuzz it runs
// the input from stdin once, which is how a crash file is replayed: `fastrelay-fuzz quic-frames < crash`.
if (args.Length != 1 || !FuzzTargetCatalog.All.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"usage: fastrelay-fuzz TARGET   (targets: {string.Join(", ", FuzzTargetCatalog.All.Keys)})");
    return 2;
}
var buffer = new MemoryStream();
Fuzzer.Run(stream =>
{
    buffer.SetLength(0);
    stream.CopyTo(buffer);
    target(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
});
return 0;
