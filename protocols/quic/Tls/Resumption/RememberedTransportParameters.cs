using System.Buffers.Binary;
using FastRelay.Protocols.Quic.Wire;

namespace FastRelay.Protocols.Quic.Tls.Resumption;

/// <summary>
/// The server transport parameters that 0-RTT depends on (RFC 9000 §7.4.1): the client uses the remembered values for its
/// 0-RTT packets, and a server that accepts 0-RTT must not have lowered any of them since it issued the ticket. Fixed-size
/// encoding (8 × 8 bytes) so that a ticket or a session file can carry it without a parser of its own.
/// </summary>
public readonly record struct RememberedTransportParameters(
    ulong ActiveConnectionIdLimit,
    ulong InitialMaxData,
    ulong InitialMaxStreamDataBidiLocal,
    ulong InitialMaxStreamDataBidiRemote,
    ulong InitialMaxStreamDataUni,
    ulong InitialMaxStreamsBidi,
    ulong InitialMaxStreamsUni,
    ulong MaxDatagramFrameSizePlusOne)
{
    public const int EncodedLength = 8 * 8;

    public static RememberedTransportParameters From(TransportParameters p) => new(
        p.ActiveConnectionIdLimit, p.InitialMaxData, p.InitialMaxStreamDataBidiLocal, p.InitialMaxStreamDataBidiRemote,
        p.InitialMaxStreamDataUni, p.InitialMaxStreamsBidi, p.InitialMaxStreamsUni, p.MaxDatagramFrameSize is { } d ? d + 1 : 0);

    /// <summary>Applies the remembered limits to an otherwise empty parameter set (what the client's 0-RTT may use).</summary>
    public TransportParameters ToTransportParameters() => new()
    {
        ActiveConnectionIdLimit = Math.Max(2, ActiveConnectionIdLimit),
        InitialMaxData = InitialMaxData,
        InitialMaxStreamDataBidiLocal = InitialMaxStreamDataBidiLocal,
        InitialMaxStreamDataBidiRemote = InitialMaxStreamDataBidiRemote,
        InitialMaxStreamDataUni = InitialMaxStreamDataUni,
        InitialMaxStreamsBidi = Math.Min(InitialMaxStreamsBidi, 1UL << 60),
        InitialMaxStreamsUni = Math.Min(InitialMaxStreamsUni, 1UL << 60),
        MaxDatagramFrameSize = MaxDatagramFrameSizePlusOne == 0 ? null : MaxDatagramFrameSizePlusOne - 1,
    };

    /// <summary>RFC 9000 §7.4.1: every value now is at least what was remembered (a server may only raise them for 0-RTT).</summary>
    public bool AllowsEarlyDataUnder(RememberedTransportParameters remembered) =>
        ActiveConnectionIdLimit >= remembered.ActiveConnectionIdLimit
        && InitialMaxData >= remembered.InitialMaxData
        && InitialMaxStreamDataBidiLocal >= remembered.InitialMaxStreamDataBidiLocal
        && InitialMaxStreamDataBidiRemote >= remembered.InitialMaxStreamDataBidiRemote
        && InitialMaxStreamDataUni >= remembered.InitialMaxStreamDataUni
        && InitialMaxStreamsBidi >= remembered.InitialMaxStreamsBidi
        && InitialMaxStreamsUni >= remembered.InitialMaxStreamsUni
        && (remembered.MaxDatagramFrameSizePlusOne == 0 || MaxDatagramFrameSizePlusOne >= remembered.MaxDatagramFrameSizePlusOne);

    public void Write(Span<byte> destination)
    {
        if (destination.Length < EncodedLength) throw new ArgumentException("destination too small");
        ReadOnlySpan<ulong> values = [ActiveConnectionIdLimit, InitialMaxData, InitialMaxStreamDataBidiLocal, InitialMaxStreamDataBidiRemote,
            InitialMaxStreamDataUni, InitialMaxStreamsBidi, InitialMaxStreamsUni, MaxDatagramFrameSizePlusOne];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt64BigEndian(destination[(i * 8)..], values[i]);
    }

    public static bool TryRead(ReadOnlySpan<byte> source, out RememberedTransportParameters value)
    {
        value = default;
        if (source.Length < EncodedLength) return false;
        Span<ulong> v = stackalloc ulong[8];
        for (int i = 0; i < 8; i++) v[i] = BinaryPrimitives.ReadUInt64BigEndian(source[(i * 8)..]);
        // Varint range (2^62) for every value: anything larger did not come from a transport parameter.
        foreach (var x in v) if (x > QuicVarint.MaxValue + 1) return false;
        value = new RememberedTransportParameters(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
        return true;
    }
}
