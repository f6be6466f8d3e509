using FastRelay.Net;
using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;

namespace FastRelay.Protocols.CustomUdp.Wire;

/// <summary>A 16-byte handshake cookie (CHALLENGE / CONFIRM). Equality is constant-time.</summary>
public readonly struct HandshakeCookie : IEquatable<HandshakeCookie>
{
    public const int Size = 16;

    private readonly ulong _high;
    private readonly ulong _low;

    public HandshakeCookie(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < Size) throw new ArgumentException($"a cookie is {Size} bytes", nameof(bytes));
        _high = BinaryPrimitives.ReadUInt64BigEndian(bytes);
        _low = BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
    }

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _high);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _low);
    }

    /// <summary>Constant-time: no early exit on the first differing byte.</summary>
    public bool Equals(HandshakeCookie other) => ((_high ^ other._high) | (_low ^ other._low)) == 0;

    public override bool Equals(object? obj) => obj is HandshakeCookie other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_high, _low);

    public static bool operator ==(HandshakeCookie left, HandshakeCookie right) => left.Equals(right);

    public static bool operator !=(HandshakeCookie left, HandshakeCookie right) => !left.Equals(right);

    public override string ToString() => $"{_high:x16}{_low:x16}";
}

/// <summary>
/// Stateless handshake cookies for the relay: <c>cookie = HMAC-SHA256(secret, address ‖ port ‖ channel ‖ role ‖ slot)</c>
/// truncated to 16 bytes, where <c>slot = unix-time / SlotLength</c> and the secret is random per process (or given).
/// <see cref="Verify(SocketAddress, ushort, Role, HandshakeCookie)"/> accepts cookies of the current and the previous slot
/// (README: "within two time slots"), so a cookie lives between one and two slot lengths. IPv4 and IPv4-mapped IPv6
/// addresses are the same peer (dual-stack sockets). The comparison is constant-time. Allocation-free and thread-safe.
/// <code>
/// // on SUBSCRIBE/PUBLISH from `from` for channel c:
/// new Challenge(role, jar.Issue(from, c, role)).Write(buffer, c, MonotonicClock.NowNs());
/// // on CONFIRM:
/// if (!jar.Verify(from, header.Channel, confirm.Role, confirm.Cookie)) → REPLY BadCookie
/// </code>
/// </summary>
public sealed class CookieJar
{
    /// <summary>Default slot length: a cookie is valid for 10..20 s.</summary>
    public static readonly TimeSpan DefaultSlotLength = TimeSpan.FromSeconds(10);

    private const int InputSize = 16 + 2 + 2 + 1 + 8; // address (IPv6 form), port, channel, role, slot

    private readonly byte[] _secret;
    private readonly TimeProvider _time;
    private readonly long _slotMs;

    /// <param name="slotLength">Length of a time slot (≥ 1 ms); default <see cref="DefaultSlotLength"/>.</param>
    /// <param name="time">Clock (tests); default <see cref="TimeProvider.System"/>.</param>
    /// <param name="secret">HMAC key (tests, or several relay processes sharing cookies); default 32 random bytes.</param>
    public CookieJar(TimeSpan? slotLength = null, TimeProvider? time = null, ReadOnlySpan<byte> secret = default)
    {
        _slotMs = (long)(slotLength ?? DefaultSlotLength).TotalMilliseconds;
        if (_slotMs < 1) throw new ArgumentOutOfRangeException(nameof(slotLength), "a slot is at least 1 ms");
        _time = time ?? TimeProvider.System;
        _secret = secret.IsEmpty ? RandomNumberGenerator.GetBytes(32) : secret.ToArray();
    }

    public TimeSpan SlotLength => TimeSpan.FromMilliseconds(_slotMs);

    /// <summary>The current time slot.</summary>
    public long CurrentSlot => _time.GetUtcNow().ToUnixTimeMilliseconds() / _slotMs;

    /// <summary>The cookie for a peer (as received: <c>Socket.ReceiveFrom(…, SocketAddress)</c>) in the current slot.</summary>
    public HandshakeCookie Issue(SocketAddress peer, ushort channel, Role role)
    {
        Span<byte> address = stackalloc byte[16];
        if (!SocketAddresses.TryGetAddressAndPort(peer, address, out var port))
            throw new ArgumentException("not an IPv4 or IPv6 socket address", nameof(peer));
        return Compute(address, port, channel, role, CurrentSlot);
    }

    /// <summary>The cookie for an IPv4/IPv6 endpoint in the current slot.</summary>
    public HandshakeCookie Issue(EndPoint peer, ushort channel, Role role) => Issue(peer.Serialize(), channel, role);

    /// <summary>True if <paramref name="cookie"/> was issued to this peer, channel and role in the current or the previous slot.
    /// False (never throws) for anything else, including non-IP addresses.</summary>
    public bool Verify(SocketAddress peer, ushort channel, Role role, HandshakeCookie cookie)
    {
        Span<byte> address = stackalloc byte[16];
        if (!SocketAddresses.TryGetAddressAndPort(peer, address, out var port))
            return false;
        var slot = CurrentSlot;
        // Both computed and compared every time: the answer takes as long whichever slot (if any) matches.
        var current = Compute(address, port, channel, role, slot) == cookie;
        var previous = Compute(address, port, channel, role, slot - 1) == cookie;
        return current | previous;
    }

    public bool Verify(EndPoint peer, ushort channel, Role role, HandshakeCookie cookie) =>
        peer is IPEndPoint && Verify(peer.Serialize(), channel, role, cookie);

    private HandshakeCookie Compute(ReadOnlySpan<byte> address16, ushort port, ushort channel, Role role, long slot)
    {
        Span<byte> input = stackalloc byte[InputSize];
        address16.CopyTo(input);
        BinaryPrimitives.WriteUInt16BigEndian(input[16..], port);
        BinaryPrimitives.WriteUInt16BigEndian(input[18..], channel);
        input[20] = (byte)role;
        BinaryPrimitives.WriteInt64BigEndian(input[21..], slot);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(_secret, input, mac);
        var cookie = new HandshakeCookie(mac);
        CryptographicOperations.ZeroMemory(mac);
        return cookie;
    }
}
