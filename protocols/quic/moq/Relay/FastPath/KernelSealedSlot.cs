using System.Security.Cryptography;
using FastRelay.Bpf;
using FastRelay.Bpf.Crypto;
using FastRelay.Protocols.Quic.Connection;
using FastRelay.Protocols.Quic.Crypto;

namespace FastRelay.Protocols.Moq.Relay.FastPath;

/// <summary>
/// One encrypted subscriber slot of the relay's kernel programs (an object built with EncryptedSubscribers,
/// docs/quic-encrypted-fast-path.md): the QUIC stack's <see cref="ISealedFastPathSlot"/> on the kernel's maps. Numbers
/// come from the slot's <c>fr_next_pn</c> entry, mapped into this process (the same atomic add as the kernel's
/// <c>__sync_fetch_and_add</c>, no syscall per packet), whose bit 63 is the key phase the kernel seals copies with
/// (<see cref="PhaseBit"/>: a copy's number and phase come from one atomic operation, so copies change phase in number
/// order across a key update); keys go into the kernel through <see cref="QuicKernelCrypto"/>
/// (maps and the syscall program only). The first keys also write the slot's connection entry, which is what makes the
/// egress program treat the slot as encrypted: install them before the slot is activated.
/// </summary>
public sealed class KernelSealedSlot : ISealedFastPathSlot
{
    private readonly BpfMappedArray<ulong> _nextPacketNumbers;
    private readonly QuicKernelCrypto _crypto;
    private readonly uint _slot;
    private readonly int _packetNumberOffset;
    private readonly object _gate = new();
    private bool _connectionWritten;
    // After Detach: the connection numbers on its own from here, and its keys stay out of the slot (which may be reused).
    private bool _detached;
    private ulong _detachedNext;
    // The send phase as the counter's bit 63 (0 or PhaseBit): kept in the counter from Start and every InstallSendKeys.
    private ulong _phaseBit;

    /// <summary>Bit 63 of a sealed slot's <c>fr_next_pn</c> entry: the key phase copies numbered now are sealed with
    /// (bpf-templates/crypto/fr_quic_relay.h, FR_ENC_PHASE_SHIFT).</summary>
    public const ulong PhaseBit = 1UL << 63;

    /// <summary>The packet number part of the entry (QUIC numbers are below 2^62).</summary>
    public const ulong NumberMask = (1UL << 62) - 1;

    /// <param name="nextPacketNumbers">The object's fr_next_pn, mapped (shared by every slot of the object).</param>
    /// <param name="crypto">The object's key writer.</param>
    /// <param name="connectionIdLength">The subscriber's connection id length, 0..8: the seal leaves the descriptor's
    /// 8-byte field that many bytes long (Chromium's is 0; fr_enc_cid_cut in bpf-templates/crypto/fr_quic_relay.h).</param>
    public KernelSealedSlot(BpfMappedArray<ulong> nextPacketNumbers, QuicKernelCrypto crypto, uint slot, int connectionIdLength)
    {
        ArgumentNullException.ThrowIfNull(nextPacketNumbers);
        ArgumentNullException.ThrowIfNull(crypto);
        if (slot >= (uint)nextPacketNumbers.Count || slot >= (uint)crypto.MaxSlots) throw new ArgumentOutOfRangeException(nameof(slot));
        if (connectionIdLength is < 0 or > MaxConnectionIdLength) throw new ArgumentOutOfRangeException(nameof(connectionIdLength));
        _nextPacketNumbers = nextPacketNumbers;
        _crypto = crypto;
        _slot = slot;
        _packetNumberOffset = 1 + connectionIdLength;
    }

    public uint Slot => _slot;

    /// <summary>The longest subscriber connection id a sealed copy can carry: the descriptor's field (ids are only cut, never grown).</summary>
    public const int MaxConnectionIdLength = 8;

    /// <summary>Key generations installed so far (the first keys and one per key update).</summary>
    public int KeyInstalls { get; private set; }

    public void Start(ulong firstPacketNumber)
    {
        lock (_gate)
            if (!_detached) Volatile.Write(ref _nextPacketNumbers[_slot], (firstPacketNumber & NumberMask) | _phaseBit);
    }

    public ulong Reserve()
    {
        // The lock only orders a Reserve against Detach (uncontended otherwise); the add itself is atomic against the kernel.
        lock (_gate)
            return _detached ? _detachedNext++ : (Interlocked.Increment(ref _nextPacketNumbers[_slot]) - 1) & NumberMask;
    }

    /// <summary>
    /// The slot is going away while the connection may live on: from now on the connection numbers on its own, above every
    /// number the slot's counter gave (a number must never repeat: it is the AEAD nonce), and its key updates no longer
    /// reach the kernel. Call before the slot can be reused.
    /// </summary>
    public void Detach()
    {
        lock (_gate)
        {
            if (_detached) return;
            _detachedNext = Volatile.Read(ref _nextPacketNumbers[_slot]) & NumberMask;
            _detached = true;
        }
    }

    /// <summary>Installs the keys in the set of their key phase, then makes that phase the one the kernel seals with: the
    /// other phase's set (the previous generation) is never touched while copies may still use it.</summary>
    public void InstallSendKeys(PacketKeys keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        lock (_gate)
            if (_detached) return;
        if (!QuicConnectionCore.KernelCanSeal(keys.Suite)) throw new NotSupportedException($"the kernel cannot seal with {keys.Suite}");
        int phase = keys.KeyPhase ? 1 : 0;
        int length = keys.Suite.KeyLength();
        Span<byte> key = stackalloc byte[32], iv = stackalloc byte[12], hp = stackalloc byte[32];
        try
        {
            keys.ExportKeys(key[..length], iv, hp[..keys.Suite.HeaderProtectionKeyLength()]);
            _crypto.InstallKeys((int)_slot, phase, key[..length], iv, hp[..keys.Suite.HeaderProtectionKeyLength()]);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            CryptographicOperations.ZeroMemory(iv);
            CryptographicOperations.ZeroMemory(hp);
        }
        if (!_connectionWritten)
        {
            // The decoding reference is unused for sealing (the number comes with each copy); 0 is fine.
            _crypto.SetConnection((int)_slot, _packetNumberOffset, phase, 0);
            _connectionWritten = true;
        }
        else
        {
            _crypto.SetSendPhase((int)_slot, phase);   // the entry's copy, for diagnostics: the kernel reads the counter's bit
        }
        lock (_gate)
        {
            if (_detached) return;
            _phaseBit = phase == 1 ? PhaseBit : 0;
            SetPhaseBit(ref _nextPacketNumbers[_slot], _phaseBit);
        }
        KeyInstalls++;
    }

    /// <summary>Sets bit 63 of <paramref name="counter"/> to <paramref name="phaseBit"/> without losing a number the kernel
    /// takes meanwhile (its fetch-and-add and this compare-and-swap are both atomic on the word).</summary>
    public static void SetPhaseBit(ref ulong counter, ulong phaseBit)
    {
        while (true)
        {
            var old = Volatile.Read(ref counter);
            var flipped = (old & ~PhaseBit) | phaseBit;
            if (old == flipped || Interlocked.CompareExchange(ref counter, flipped, old) == old) return;
        }
    }
}
