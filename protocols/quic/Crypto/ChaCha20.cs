using System.Buffers.Binary;
using System.Numerics;

namespace FastRelay.Protocols.Quic.Crypto;

/// <summary>The ChaCha20 block function (RFC 8439 §2.3), for header protection only (the AEAD comes from the BCL).</summary>
public static class ChaCha20
{
    /// <summary>Writes the 64-byte keystream block for a 256-bit key (8 little-endian words), a counter and a 12-byte nonce.</summary>
    public static void Block(ReadOnlySpan<uint> key, uint counter, ReadOnlySpan<byte> nonce, Span<byte> output)
    {
        Span<uint> state = stackalloc uint[16];
        state[0] = 0x61707865; state[1] = 0x3320646e; state[2] = 0x79622d32; state[3] = 0x6b206574;
        key[..8].CopyTo(state[4..]);
        state[12] = counter;
        state[13] = BinaryPrimitives.ReadUInt32LittleEndian(nonce);
        state[14] = BinaryPrimitives.ReadUInt32LittleEndian(nonce[4..]);
        state[15] = BinaryPrimitives.ReadUInt32LittleEndian(nonce[8..]);

        Span<uint> x = stackalloc uint[16];
        state.CopyTo(x);
        for (int i = 0; i < 10; i++)
        {
            QuarterRound(x, 0, 4, 8, 12);
            QuarterRound(x, 1, 5, 9, 13);
            QuarterRound(x, 2, 6, 10, 14);
            QuarterRound(x, 3, 7, 11, 15);
            QuarterRound(x, 0, 5, 10, 15);
            QuarterRound(x, 1, 6, 11, 12);
            QuarterRound(x, 2, 7, 8, 13);
            QuarterRound(x, 3, 4, 9, 14);
        }
        for (int i = 0; i < 16; i++) BinaryPrimitives.WriteUInt32LittleEndian(output[(i * 4)..], x[i] + state[i]);
    }

    private static void QuarterRound(Span<uint> x, int a, int b, int c, int d)
    {
        x[a] += x[b]; x[d] = BitOperations.RotateLeft(x[d] ^ x[a], 16);
        x[c] += x[d]; x[b] = BitOperations.RotateLeft(x[b] ^ x[c], 12);
        x[a] += x[b]; x[d] = BitOperations.RotateLeft(x[d] ^ x[a], 8);
        x[c] += x[d]; x[b] = BitOperations.RotateLeft(x[b] ^ x[c], 7);
    }
}
