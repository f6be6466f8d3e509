using System.Buffers;

namespace FastRelay.Protocols.Quic.Streams;

/// <summary>
/// Bytes addressed by absolute stream offset, kept in fixed-size chunks rented from <see cref="ArrayPool{T}"/>.
/// Chunks are rented on first write and returned once everything below them is released, so memory follows the
/// live window (receive: ahead of the reader; send: unacknowledged data), not the stream's total length, and the
/// steady state allocates nothing. The chunk table is a power-of-two ring indexed by chunk number; it only grows
/// (rarely) when the live window grows.
/// </summary>
internal sealed class ChunkStore
{
    public const int ChunkSize = 4096;

    /// <summary>
    /// Chunks come from a pool of their own: a stream window holds thousands of chunks at once, far more than
    /// ArrayPool.Shared keeps per size, so the shared pool would allocate and drop arrays at line rate (measured: over
    /// half the CPU of a bulk transfer went to GC). 16384 chunks = 64 MB kept at most.
    /// </summary>
    private static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Create(ChunkSize, 16384);
    private const int ChunkShift = 12;

    private byte[]?[] _slots = new byte[]?[4];
    private ulong _baseChunk;      // lowest chunk number that may still be held
    private int _rented;

    /// <summary>Bytes currently rented (for memory-bound tests and diagnostics).</summary>
    public long RetainedBytes => (long)_rented * ChunkSize;

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            ulong chunk = offset >> ChunkShift;
            int within = (int)(offset & (ChunkSize - 1));
            int n = Math.Min(ChunkSize - within, data.Length);
            data[..n].CopyTo(GetOrRent(chunk).AsSpan(within, n));
            data = data[n..];
            offset += (ulong)n;
        }
    }

    /// <summary>Copies bytes that were written before (the caller tracks which ranges are present).</summary>
    public void Read(ulong offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            ulong chunk = offset >> ChunkShift;
            int within = (int)(offset & (ChunkSize - 1));
            int n = Math.Min(ChunkSize - within, destination.Length);
            byte[] block = _slots[(int)(chunk & (ulong)(_slots.Length - 1))]
                ?? throw new InvalidOperationException("read of bytes never written");
            block.AsSpan(within, n).CopyTo(destination);
            destination = destination[n..];
            offset += (ulong)n;
        }
    }

    /// <summary>Returns every chunk lying entirely below <paramref name="offset"/> to the pool.</summary>
    public void ReleaseBelow(ulong offset)
    {
        ulong limit = offset >> ChunkShift;
        for (; _baseChunk < limit; _baseChunk++)
        {
            ref byte[]? slot = ref _slots[(int)(_baseChunk & (ulong)(_slots.Length - 1))];
            if (slot is null) continue;
            Pool.Return(slot);
            slot = null;
            _rented--;
        }
    }

    /// <summary>Returns all memory; the store is then empty (and can still be reused above <paramref name="newBase"/>).</summary>
    public void Clear(ulong newBase)
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            if (_slots[i] is { } block) Pool.Return(block);
            _slots[i] = null;
        }
        _rented = 0;
        _baseChunk = newBase >> ChunkShift;
    }

    private byte[] GetOrRent(ulong chunk)
    {
        if (chunk < _baseChunk) throw new InvalidOperationException("write below the released offset");
        while (chunk - _baseChunk >= (ulong)_slots.Length) Grow();
        ref byte[]? slot = ref _slots[(int)(chunk & (ulong)(_slots.Length - 1))];
        if (slot is null)
        {
            slot = Pool.Rent(ChunkSize);
            _rented++;
        }
        return slot;
    }

    private void Grow()
    {
        var larger = new byte[]?[_slots.Length * 2];
        for (ulong c = _baseChunk; c < _baseChunk + (ulong)_slots.Length; c++)
            larger[(int)(c & (ulong)(larger.Length - 1))] = _slots[(int)(c & (ulong)(_slots.Length - 1))];
        _slots = larger;
    }
}
