using System.Security.Cryptography;

namespace FastRelay.Protocols.Quic.Tls.Handshake;

/// <summary>
/// The handshake transcript (RFC 8446 §4.4.1). The hash is only known once the cipher suite is (a client learns it from
/// ServerHello/HelloRetryRequest), so messages added before <see cref="Start"/> are kept and hashed then.
/// </summary>
internal sealed class Transcript : IDisposable
{
    private List<byte[]>? _pending = new();
    private IncrementalHash? _hash;
    private HashAlgorithmName _name;
    /// <summary>Every byte hashed so far (a few KB): PSK binders hash the transcript plus a partial ClientHello (RFC 8446 §4.2.11.2).</summary>
    private readonly MemoryStream _bytes = new();

    public bool IsStarted => _hash is not null;

    public void Add(ReadOnlySpan<byte> message)
    {
        _bytes.Write(message);
        if (_hash is null) _pending!.Add(message.ToArray());
        else _hash.AppendData(message);
    }

    public void Start(HashAlgorithmName hash)
    {
        if (_hash is not null) return;
        _name = hash;
        _hash = IncrementalHash.CreateHash(hash);
        foreach (var m in _pending!) _hash.AppendData(m);
        _pending = null;
    }

    public byte[] CurrentHash() => (_hash ?? throw new InvalidOperationException("transcript hash not started")).GetCurrentHash();

    /// <summary>
    /// After a HelloRetryRequest, ClientHello1 is replaced by a synthetic message_hash message (§4.4.1):
    /// <c>message_hash(254) || 00 00 Hash.length || Hash(ClientHello1)</c>.
    /// </summary>
    public void ReplaceWithMessageHash()
    {
        var h = CurrentHash();
        _hash!.Dispose();
        _hash = IncrementalHash.CreateHash(_name);
        _hash.AppendData([(byte)TlsHandshakeType.MessageHash, 0, 0, (byte)h.Length]);
        _hash.AppendData(h);
        _bytes.SetLength(0);
        _bytes.Write([(byte)TlsHandshakeType.MessageHash, 0, 0, (byte)h.Length]);
        _bytes.Write(h);
    }

    /// <summary>Transcript-Hash(messages so far || <paramref name="extra"/>) under <paramref name="hash"/>, without changing the transcript.</summary>
    public byte[] HashWith(HashAlgorithmName hash, ReadOnlySpan<byte> extra)
    {
        using var h = IncrementalHash.CreateHash(hash);
        h.AppendData(_bytes.GetBuffer(), 0, (int)_bytes.Length);
        h.AppendData(extra);
        return h.GetHashAndReset();
    }

    public void Dispose() => _hash?.Dispose();
}
