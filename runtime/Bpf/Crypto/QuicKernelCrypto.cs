using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using FastRelay.Bpf.Native;

namespace FastRelay.Bpf.Crypto;

/// <summary>
/// Userspace's side of the kernel's QUIC AES-GCM packet protection (bpf-templates/crypto/fr_quic_crypto.h): puts a
/// connection's keys where the TC programs find them. Keys travel only through bpf(2): the AES contexts are created by
/// the object's syscall program <c>quic_install_keys</c> from key bytes in its run context and kept as kptrs in
/// <c>fr_quic_ctxs</c>; the IV and GHASH table go into <c>fr_quic_keys</c>; the layout and send key phase into
/// <c>fr_quic_conns</c> (only userspace writes it); the largest packet number into <c>fr_quic_pns</c> (set once here,
/// then only the kernel raises it). A key set is (slot, key phase): a key update installs the next keys in the other phase, then
/// flips the send phase (<see cref="SetSendPhase"/>), while packets of both phases still open.
/// <para>The caller derives key, IV and hp key from the TLS secret (the QUIC stack's QuicKeyDerivation); this class is
/// bytes only and supports the AES-GCM suites: TLS_AES_128_GCM_SHA256 (16-byte keys) and TLS_AES_256_GCM_SHA384
/// (32-byte keys). ChaCha20-Poly1305 connections stay in userspace.</para>
/// </summary>
public sealed class QuicKernelCrypto
{
    public const string InstallProgram = "quic_install_keys";
    public const string ContextsMap = "fr_quic_ctxs";
    public const string KeysMap = "fr_quic_keys";
    public const string ConnectionsMap = "fr_quic_conns";
    public const string PacketNumbersMap = "fr_quic_pns";
    public const string StatsMap = "fr_quic_crypto_stats";
    public const string CryptoContextStruct = "bpf_crypto_ctx";

    /// <summary>Maps that hold key material or what it protects (the contexts, IVs and GHASH tables, the per-CPU scratch
    /// with plaintext and keystream): held by the process that loaded them, never pinned.</summary>
    public static bool HoldsKeyMaterial(string mapName) => mapName is ContextsMap or KeysMap or ScratchMap;

    public const string ScratchMap = "fr_quic_scratch";

    /// <summary>The kernel's AES: its best-priority implementation. On this machine's kernel (no AES-NI module) that is
    /// aes-fixed-time, about twice as slow as "ecb(aes-generic)", which is table-based and so not constant-time.</summary>
    public const string DefaultAlgorithm = "ecb(aes)";

    // struct fr_quic_install_args (fr_quic_install.h): slot, phase, key_len, pad, key[32], hp_key[32], algo[32], err, stage.
    private const int InstallArgsSize = 120;
    private const int ArgsKey = 16, ArgsHpKey = 48, ArgsAlgo = 80, ArgsErr = 112, ArgsStage = 116;
    // struct fr_quic_key_set: iv[12], ready (u32), ghash words.
    private const int KeySetSize = 16 + GhashTable.Bytes;
    // struct fr_quic_conn: pn_offset, send_phase, pad[6].
    private const int ConnSize = 8;

    private readonly BpfObject _obj;
    private readonly BpfMap _keys;
    private readonly BpfMap _conns;
    private readonly BpfMap _pns;

    public QuicKernelCrypto(BpfObject loaded, string algorithm = DefaultAlgorithm)
    {
        if (!loaded.IsLoaded) throw new ArgumentException("load the object first (see OpenAndLoad)", nameof(loaded));
        if (algorithm.Length is 0 or > 31) throw new ArgumentException("an ecb cipher name of 1..31 characters", nameof(algorithm));
        _obj = loaded;
        Algorithm = algorithm;
        _keys = loaded.Map(KeysMap);
        _conns = loaded.Map(ConnectionsMap);
        _pns = loaded.Map(PacketNumbersMap);
        if (_keys.ValueSize != KeySetSize) throw new InvalidOperationException($"{KeysMap} values are {_keys.ValueSize} bytes, expected {KeySetSize}");
        if (_conns.ValueSize != ConnSize) throw new InvalidOperationException($"{ConnectionsMap} values are {_conns.ValueSize} bytes, expected {ConnSize}");
        MaxSlots = _conns.MaxEntries;
    }

    public string Algorithm { get; }
    public int MaxSlots { get; }

    /// <summary>Opens an object that uses the crypto kfuncs, restores its kptr tags (<see cref="KptrTypeTags"/>) and loads it.</summary>
    public static BpfObject OpenAndLoad(string path, BpfObjectOptions? options = null)
    {
        var obj = BpfObject.Open(path, options);
        try
        {
            KptrTypeTags.TagMembersPointingTo(obj, CryptoContextStruct);
            obj.Load();
            return obj;
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Installs one key set: the AEAD key and IV, the header protection key, for (slot, phase). The set is marked not
    /// ready while its contexts are replaced, so a packet never meets a new context with an old table.
    /// </summary>
    /// <exception cref="QuicKernelCryptoException">The kernel refused a context (algorithm unknown, bad key length).</exception>
    public void InstallKeys(int slot, int phase, ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, ReadOnlySpan<byte> hpKey)
    {
        CheckSlot(slot, phase);
        if (key.Length is not (16 or 32) || hpKey.Length != key.Length)
            throw new ArgumentException("AES-GCM: a 16- or 32-byte key and a header protection key of the same length");
        if (iv.Length != 12) throw new ArgumentException("the AEAD IV is 12 bytes", nameof(iv));

        var value = new byte[KeySetSize];
        try
        {
            iv.CopyTo(value);
            GhashTable.Build(key, MemoryMarshal.Cast<byte, ulong>(value.AsSpan(16)));
            Span<byte> index = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(index, (uint)(slot * 2 + phase));
            _keys.Update(index, value); // ready = 0 while the contexts change

            var args = new byte[InstallArgsSize];
            try
            {
                BinaryPrimitives.WriteUInt32LittleEndian(args, (uint)slot);
                BinaryPrimitives.WriteUInt32LittleEndian(args.AsSpan(4), (uint)phase);
                BinaryPrimitives.WriteUInt32LittleEndian(args.AsSpan(8), (uint)key.Length);
                key.CopyTo(args.AsSpan(ArgsKey));
                hpKey.CopyTo(args.AsSpan(ArgsHpKey));
                System.Text.Encoding.ASCII.GetBytes(Algorithm, args.AsSpan(ArgsAlgo, 31));
                int ret = _obj.Program(InstallProgram).RunSyscall(args);
                if (ret != 0)
                    throw new QuicKernelCryptoException(Algorithm, BinaryPrimitives.ReadInt32LittleEndian(args.AsSpan(ArgsErr)),
                        BinaryPrimitives.ReadUInt32LittleEndian(args.AsSpan(ArgsStage)) == 2 ? "header protection" : "AEAD");
            }
            finally
            {
                CryptographicOperations.ZeroMemory(args);
            }
            BinaryPrimitives.WriteUInt32LittleEndian(value.AsSpan(12), 1);
            _keys.Update(index, value);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(value);
        }
    }

    /// <summary>Activates a connection: the packet number's offset (1 + DCID length for a short header), the key phase
    /// packets are sealed with, and the largest packet number so far (the reference for decoding truncated numbers;
    /// when the kernel numbers the connection, the number before its first). Call before its packets reach the kernel.</summary>
    public void SetConnection(int slot, int packetNumberOffset, int sendPhase, ulong largestPacketNumber)
    {
        CheckSlot(slot, sendPhase);
        if (packetNumberOffset is < 1 or > 48) throw new ArgumentOutOfRangeException(nameof(packetNumberOffset));
        Span<byte> pn = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(pn, largestPacketNumber);
        _pns.Update(SlotKey(slot), pn);
        WriteConnection(slot, packetNumberOffset, sendPhase);
    }

    /// <summary>Flips the key phase of sealed packets (after <see cref="InstallKeys"/> of the next keys in that phase).
    /// Safe at any time: the kernel never writes the connection entry.</summary>
    public void SetSendPhase(int slot, int phase)
    {
        CheckSlot(slot, phase);
        Span<byte> value = stackalloc byte[ConnSize];
        if (!_conns.TryLookup(SlotKey(slot), value) || value[0] == 0) throw new InvalidOperationException($"slot {slot} has no connection");
        WriteConnection(slot, value[0], phase);
    }

    /// <summary>Forgets the slot's connection (its layout entry zeroed): the slot no longer seals or opens, and a relay slot is
    /// clear text again when reused. Key sets stay until replaced (nothing reaches them without a connection entry).</summary>
    public void ClearConnection(int slot)
    {
        CheckSlot(slot, 0);
        _conns.Update(SlotKey(slot), new byte[ConnSize]);
    }

    /// <summary>The largest packet number the kernel sealed or opened (or gave) on the slot.</summary>
    public ulong LargestPacketNumber(int slot)
    {
        Span<byte> value = stackalloc byte[8];
        return _pns.TryLookup(SlotKey(slot), value) ? BinaryPrimitives.ReadUInt64LittleEndian(value) : 0;
    }

    private void WriteConnection(int slot, int packetNumberOffset, int sendPhase)
    {
        Span<byte> value = stackalloc byte[ConnSize];
        value.Clear();
        value[0] = (byte)packetNumberOffset;
        value[1] = (byte)sendPhase;
        _conns.Update(SlotKey(slot), value);
    }

    /// <summary>The kernel's counters, summed over CPUs.</summary>
    public QuicKernelCryptoStats ReadStats()
    {
        var map = _obj.Map(StatsMap);
        ulong Sum(uint index) => map.LookupPerCpu<uint, ulong>(index).Aggregate(0UL, (a, b) => a + b);
        return new QuicKernelCryptoStats(Sum(0), Sum(1), Sum(2), Sum(3), Sum(4), Sum(5), Sum(6), Sum(7));
    }

    private void CheckSlot(int slot, int phase)
    {
        if ((uint)slot >= (uint)MaxSlots) throw new ArgumentOutOfRangeException(nameof(slot), $"0..{MaxSlots - 1}");
        if (phase is not (0 or 1)) throw new ArgumentOutOfRangeException(nameof(phase), "key phase 0 or 1");
    }

    private static byte[] SlotKey(int slot)
    {
        var key = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(key, (uint)slot);
        return key;
    }
}

/// <summary>fr_quic_crypto_stats (enum fr_qc_stat). The last two count only in the relay object (fr_quic_relay.h): copies
/// refused because the tag would take them past the device MTU, and the stack's own sealed packets left untouched.</summary>
public sealed record QuicKernelCryptoStats(ulong Sealed, ulong Opened, ulong AuthFailed, ulong NoKeys, ulong Malformed, ulong CryptoError,
    ulong TooBig = 0, ulong StackPassed = 0);

/// <summary>bpf_crypto_ctx_create refused a context; <see cref="Errno"/> is its error (e.g. -EINVAL for an algorithm that
/// is not an lskcipher, such as ctr(aes) on 6.18).</summary>
public sealed class QuicKernelCryptoException(string algorithm, int errno, string which)
    : Exception($"the kernel refused the {which} context for '{algorithm}': error {errno}")
{
    public int Errno { get; } = errno;
}
