using System.IO.Hashing;

namespace FastRelay.Protocols.Moq.Clients;

/// <summary>
/// The checksum in <see cref="ObjectPayloadHeader"/>: XxHash64 (System.IO.Hashing) over the header's fields before the
/// checksum and every byte after the header. Non-cryptographic on purpose: it catches corruption, truncation and a relay
/// serving one object's bytes under another's location, at several GB/s, so a benchmark measures the relay, not the hash.
/// </summary>
public static class PayloadChecksum
{
    public static ulong Compute(ReadOnlySpan<byte> headerBeforeChecksum, ReadOnlySpan<byte> body)
    {
        var hash = new XxHash64();
        hash.Append(headerBeforeChecksum);
        hash.Append(body);
        return hash.GetCurrentHashAsUInt64();
    }
}
