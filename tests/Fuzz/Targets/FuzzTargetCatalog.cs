namespace FastRelay.Fuzz.Targets;

/// <summary>A named parser entry point; the name is the corpus folder (tests/Fuzz/corpus/NAME) and the CLI argument.</summary>
public delegate void FuzzTarget(ReadOnlySpan<byte> input);

/// <summary>Every fuzz target, by name. scripts/fuzz.sh runs each; the corpus replay test runs each over its corpus.</summary>
public static class FuzzTargetCatalog
{
    public static readonly IReadOnlyDictionary<string, FuzzTarget> All = new Dictionary<string, FuzzTarget>
    {
        ["quic-datagram"] = QuicFuzzTargets.Datagram,
        ["quic-frames"] = QuicFuzzTargets.Frames,
        ["quic-transport-parameters"] = QuicFuzzTargets.TransportParameters,
        ["tls-handshake"] = QuicFuzzTargets.TlsHandshake,
        ["http3-frames"] = QuicFuzzTargets.Http3Frames,
        ["qpack"] = QuicFuzzTargets.Qpack,
        ["moq-control"] = MoqFuzzTargets.ControlStream,
        ["moq-data-stream"] = MoqFuzzTargets.DataStream,
        ["moq-datagram"] = MoqFuzzTargets.Datagram,
        ["moq-names"] = MoqFuzzTargets.Names,
    };
}
