using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace FastRelay.Protocols.Quic.Wire;

/// <summary>
/// A QUIC v1 connection id (0..20 bytes, RFC 9000 §5.1) stored inline: copying, comparing and hashing never allocate.
/// The relay's connection ids carry a priority in their first byte (<see cref="Priority"/>), see QuicMoqHeader.
/// </summary>
public readonly struct ConnectionId : IEquatable<ConnectionId>
{
    public const int MaxLength = 20;

    [InlineArray(MaxLength)]
    private struct Buffer { private byte _element; }

    private readonly Buffer _bytes;
    public readonly int Length;

    public ConnectionId(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxLength) throw new ArgumentException($"connection id longer than {MaxLength} bytes");
        Length = bytes.Length;
        bytes.CopyTo(_bytes);
    }

    /// <summary>Connection id from a parsed slice; false when longer than 20 bytes.</summary>
    public static bool TryCreate(ReadOnlySpan<byte> bytes, out ConnectionId id)
    {
        if (bytes.Length > MaxLength) { id = default; return false; }
        id = new ConnectionId(bytes);
        return true;
    }

    /// <summary>A connection id with a leading priority byte followed by random bytes (Length total, at least 1).</summary>
    public static ConnectionId WithPriority(byte priority, int length)
    {
        if (length is < 1 or > MaxLength) throw new ArgumentOutOfRangeException(nameof(length));
        Span<byte> bytes = stackalloc byte[length];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        bytes[0] = priority;
        return new ConnectionId(bytes);
    }

    public static ConnectionId Random(int length)
    {
        if (length is < 0 or > MaxLength) throw new ArgumentOutOfRangeException(nameof(length));
        Span<byte> bytes = stackalloc byte[length];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        return new ConnectionId(bytes);
    }

    public bool IsEmpty => Length == 0;

    /// <summary>The first byte when the connection id follows the priority convention.</summary>
    public byte Priority => Length > 0 ? Span[0] : (byte)0;

    [UnscopedRef]
    public ReadOnlySpan<byte> Span => ((ReadOnlySpan<byte>)_bytes)[..Length];

    public bool Equals(ConnectionId other) => Span.SequenceEqual(other.Span);
    public override bool Equals(object? obj) => obj is ConnectionId other && Equals(other);
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(Span);
        return hash.ToHashCode();
    }

    public static bool operator ==(ConnectionId a, ConnectionId b) => a.Equals(b);
    public static bool operator !=(ConnectionId a, ConnectionId b) => !a.Equals(b);

    public override string ToString() => Convert.ToHexString(Span).ToLowerInvariant();
}
