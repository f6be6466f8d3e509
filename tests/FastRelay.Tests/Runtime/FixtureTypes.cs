using Xunit;
using System.Runtime.InteropServices;
using FastRelay.Generated;

namespace FastRelay.Tests.Runtime;

/// <summary>C# mirror of <c>struct fx_record</c> (runtime_fixture.bpf.c), with its padding holes.</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public unsafe struct FxRecord
{
    [FieldOffset(0)] public byte Kind;
    [FieldOffset(4)] public uint Id;
    [FieldOffset(8)] public ushort Port;
    [FieldOffset(16)] public ulong Bytes;
    [FieldOffset(24)] public fixed byte Tag[6];

    public static FxRecord Create(byte kind, uint id, ushort port, ReadOnlySpan<byte> tag)
    {
        var r = new FxRecord { Kind = kind, Id = id, Port = port };
        for (int i = 0; i < 6; i++) r.Tag[i] = tag[i];
        return r;
    }

    public byte[] TagBytes()
    {
        var t = new byte[6];
        for (int i = 0; i < 6; i++) t[i] = Tag[i];
        return t;
    }
}

/// <summary>C# mirror of <c>struct fx_event</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FxEvent
{
    public uint Key, Mark, Priority, Cb0, Len, RecordId;
}

internal static class FixtureLayouts
{
    /// <summary>The layout of fx_record as a generator would describe it.</summary>
    public static SharedStructLayout Record => new("fx_record", nameof(FxRecord), 32,
    [
        new("kind", 0, 1),
        new("id", 4, 4),
        new("port", 8, 2),
        new("bytes", 16, 8),
        new("tag", 24, 6),
    ]);

    /// <summary>A fx_tc packet: Ethernet header (dst 00.., src 02:.., type 0x88b5) + big-endian key + filler.</summary>
    public static byte[] Packet(uint key, int length = 64)
    {
        var p = new byte[length];
        for (int i = 6; i < 12; i++) p[i] = (byte)(0x10 + i);
        p[12] = 0x88; // local experimental ethertype: the kernel leaves the payload alone
        p[13] = 0xb5;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(14), key);
        for (int i = 18; i < length; i++) p[i] = (byte)i;
        return p;
    }
}
