using System.Text;
using FastRelay.Protocols.Moq.Wire;
using FastRelay.Protocols.Moq.Wire.Data;
using FastRelay.Protocols.Moq.Wire.Messages;

namespace FastRelay.Fuzz.Targets;

/// <summary>
/// The MoQ (draft-19) parsers as fuzz targets: control/request stream messages, unidirectional data streams (fed
/// whole and in two pieces, as a stream arrives), object datagrams and serialized names.
/// </summary>
public static class MoqFuzzTargets
{
    /// <summary>A control or request stream: framed messages in sequence until one is incomplete or malformed.</summary>
    public static void ControlStream(ReadOnlySpan<byte> input)
    {
        ReadOnlyMemory<byte> data = input.ToArray();
        while (MoqControlMessageCodec.TryParse(data, out _, out int consumed, out _))
        {
            if (consumed <= 0) throw new InvalidOperationException("control message of no length consumed");
            data = data[consumed..];
        }
    }

    /// <summary>A unidirectional data stream: its header, then objects; read whole and again split at the first third.</summary>
    public static void DataStream(ReadOnlySpan<byte> input)
    {
        var bytes = input.ToArray();
        ReadStream(bytes, bytes.Length);
        ReadStream(bytes, bytes.Length / 3);
    }

    /// <summary>An OBJECT_DATAGRAM (or padding datagram).</summary>
    public static void Datagram(ReadOnlySpan<byte> input) =>
        MoqObjectDatagram.TryParse(input.ToArray(), 128, out _, out _, out _, out _, out _);

    /// <summary>A serialized namespace or full track name (the draft's bijective text form).</summary>
    public static void Names(ReadOnlySpan<byte> input)
    {
        var text = Encoding.UTF8.GetString(input);
        if (MoqNameFormat.TryParse(text, out var name) && MoqNameFormat.Format(name) != text)
            throw new InvalidOperationException($"serialized name does not round-trip: {text}");
        MoqNameFormat.TryParseNamespace(text, out _);
    }

    /// <summary>Parses a stream as if only the first <paramref name="available"/> bytes had arrived, then all of it.</summary>
    private static void ReadStream(byte[] bytes, int available)
    {
        if (MoqStreamHeader.TryParse(bytes.AsSpan(0, available), out var kind, out var subgroup, out _, out int offset, out _) != MoqParseStatus.Complete)
        {
            if (available == bytes.Length) return;
            if (MoqStreamHeader.TryParse(bytes, out kind, out subgroup, out _, out offset, out _) != MoqParseStatus.Complete) return;
            available = bytes.Length;
        }
        var subgroupReader = kind == MoqStreamKind.Subgroup ? new MoqSubgroupObjectReader(subgroup!) : null;
        var fetchReader = kind == MoqStreamKind.Fetch ? new MoqFetchObjectReader() : null;
        if (subgroupReader is null && fetchReader is null) return;
        while (true)
        {
            var window = bytes.AsMemory(offset, available - offset);
            int consumed;
            var status = subgroupReader is not null
                ? subgroupReader.TryRead(window, out _, out consumed, out _, out _)
                : fetchReader!.TryRead(window, out _, out _, out consumed, out _, out _);
            if (status == MoqParseStatus.Complete)
            {
                if (consumed <= 0) throw new InvalidOperationException("object of no length consumed");
                offset += consumed;
                continue;
            }
            if (status != MoqParseStatus.NeedMoreData || available == bytes.Length) return;
            available = bytes.Length; // the rest of the stream arrives
        }
    }
}
