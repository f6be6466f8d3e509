namespace FastRelay.Protocols.Quic.Tls.Resumption;

/// <summary>One PskIdentity of a ClientHello's pre_shared_key (RFC 8446 §4.2.11).</summary>
public readonly record struct PskIdentity(ReadOnlyMemory<byte> Identity, uint ObfuscatedTicketAge);

/// <summary>
/// The pre_shared_key extension body (RFC 8446 §4.2.11). ClientHello: <c>OfferedPsks { identities&lt;7..2^16-1&gt;;
/// binders&lt;33..2^16-1&gt; }</c>; ServerHello: <c>selected_identity</c> (uint16). The binders close the ClientHello, so
/// the "partial ClientHello" a binder is computed over is the whole message minus <see cref="BindersLength"/> trailing
/// bytes (pre_shared_key is the last extension, §4.2.11).
/// </summary>
public sealed class OfferedPsks
{
    /// <summary>Identities we look at; later ones are parsed (to find the binders) but never tried.</summary>
    public const int MaxIdentities = 16;

    public PskIdentity[] Identities { get; init; } = [];
    public ReadOnlyMemory<byte>[] Binders { get; init; } = [];

    /// <summary>Encoded length of the binders vector, its 2-byte length included.</summary>
    public int BindersLength => 2 + Binders.Sum(b => 1 + b.Length);

    public static bool TryRead(ReadOnlyMemory<byte> body, out OfferedPsks? offered)
    {
        offered = null;
        var r = new TlsReader(body);
        if (!r.TryReadVector(2, 7, 0xFFFF, out var identities) || !r.TryReadVector(2, 33, 0xFFFF, out var binders) || !r.IsEnd) return false;
        var ids = new List<PskIdentity>();
        var ir = new TlsReader(identities);
        while (!ir.IsEnd)
        {
            if (!ir.TryReadVector(2, 1, 0xFFFF, out var identity) || !ir.TryReadUInt32(out uint age)) return false;
            if (ids.Count < MaxIdentities) ids.Add(new PskIdentity(identity, age));
        }
        var list = new List<ReadOnlyMemory<byte>>();
        var br = new TlsReader(binders);
        int total = 0;
        while (!br.IsEnd)
        {
            if (!br.TryReadVector(1, 32, 255, out var binder)) return false;
            if (list.Count < MaxIdentities) list.Add(binder);
            total++;
        }
        // §4.2.11: one binder per identity.
        int identityCount = 0;
        ir = new TlsReader(identities);
        while (!ir.IsEnd) { ir.TryReadVector(2, 1, 0xFFFF, out _); ir.TryReadUInt32(out _); identityCount++; }
        if (identityCount != total) return false;
        offered = new OfferedPsks { Identities = ids.ToArray(), Binders = list.ToArray() };
        // BindersLength must describe the wire, also when more than MaxIdentities were sent.
        offered._wireBindersLength = binders.Length + 2;
        return true;
    }

    private int _wireBindersLength = -1;

    /// <summary>Length of the binders vector as received (or as it will be written).</summary>
    public int WireBindersLength => _wireBindersLength >= 0 ? _wireBindersLength : BindersLength;

    /// <summary>Encodes identities and binders (binders as given: placeholders until <see cref="PatchBinder"/>).</summary>
    public byte[] Encode()
    {
        var buffer = new byte[4 + Identities.Sum(i => 2 + i.Identity.Length + 4) + BindersLength];
        var w = new TlsWriter(buffer);
        int ids = w.BeginVector(2);
        foreach (var id in Identities)
        {
            w.WriteVector(2, id.Identity.Span);
            w.WriteUInt32(id.ObfuscatedTicketAge);
        }
        w.EndVector(ids, 2);
        int b = w.BeginVector(2);
        foreach (var binder in Binders) w.WriteVector(1, binder.Span);
        w.EndVector(b, 2);
        return buffer.AsSpan(0, w.Position).ToArray();
    }

    /// <summary>Writes the single binder of a one-identity offer into an encoded ClientHello (it is the message's last bytes).</summary>
    public static void PatchBinder(Span<byte> clientHello, ReadOnlySpan<byte> binder) => binder.CopyTo(clientHello[^binder.Length..]);

    public static byte[] EncodeSelectedIdentity(ushort index) => [(byte)(index >> 8), (byte)index];

    public static bool TryReadSelectedIdentity(ReadOnlyMemory<byte> body, out ushort index)
    {
        var r = new TlsReader(body);
        return r.TryReadUInt16(out index) & r.IsEnd;
    }
}
