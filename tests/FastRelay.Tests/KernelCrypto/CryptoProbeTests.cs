using System.Buffers.Binary;
using System.Security.Cryptography;
using FastRelay.Bpf;
using FastRelay.Bpf.Crypto;
using FastRelay.Tests.Packets;
using FastRelay.Tests.Runtime;
using Xunit;
using Xunit.Abstractions;

namespace FastRelay.Tests.KernelCrypto;

/// <summary>
/// Feasibility of the BPF crypto kfuncs on this kernel (bpf-templates/crypto/crypto_probe.bpf.c): which skcipher
/// algorithms bpf_crypto_ctx_create accepts from a syscall program, that the context survives as a kptr in a map, and
/// that a TC program encrypts with it both between map buffers and in place in the packet. Results against .NET's AES.
/// </summary>
[Collection(CryptoObjectsCollection.Name)]
public sealed class CryptoProbeTests(CryptoObjects objects, ITestOutputHelper output)
{
    private const int BufferSize = 1520; // PROBE_BUF
    private static readonly byte[] Key = Enumerable.Range(0, 16).Select(i => (byte)i).ToArray();

    private BpfObject Load() => QuicKernelCrypto.OpenAndLoad(objects.ObjectPath("crypto_probe.bpf.c"));

    /// <summary>Runs probe_setup; returns bpf_crypto_ctx_create's error (0: created and stored).</summary>
    private static int Setup(BpfObject obj, uint index, string algorithm)
    {
        var args = new byte[80]; // struct probe_setup_args
        BinaryPrimitives.WriteUInt32LittleEndian(args, index);
        BinaryPrimitives.WriteUInt32LittleEndian(args.AsSpan(4), 16);
        Key.CopyTo(args, 8);
        System.Text.Encoding.ASCII.GetBytes(algorithm, args.AsSpan(40, 31));
        int ret = obj.Program("probe_setup").RunSyscall(args);
        int err = BinaryPrimitives.ReadInt32LittleEndian(args.AsSpan(72));
        Assert.True(ret == 0 ? err == 0 : err != 0 || ret == 3, $"return {ret} with error {err}");
        return err;
    }

    private static byte[] EcbReference(byte[] plaintext)
    {
        using var aes = Aes.Create();
        aes.Key = Key;
        return aes.EncryptEcb(plaintext, PaddingMode.None);
    }

    [BpfFact]
    public void The_kptr_tag_repair_is_what_lets_the_kernel_take_the_context_fields()
    {
        // Whether this clang dropped the tag: the repair reports how many members it re-pointed.
        int missing;
        using (var probe = BpfObject.Open(objects.ObjectPath("crypto_probe.bpf.c")))
            missing = KptrTypeTags.TagMembersPointingTo(probe, QuicKernelCrypto.CryptoContextStruct);
        // BpfObject.Load repairs by default: switched off here to show what the repair changes.
        using var plain = BpfObject.Open(objects.ObjectPath("crypto_probe.bpf.c"), new BpfObjectOptions { RestoreKptrTags = false });
        if (missing == 0)
        {
            plain.Load(); // a clang that keeps the tag: nothing to repair, the object loads as it is
            return;
        }
        Assert.Equal(1, missing); // probe_ctx_value.ctx
        var refused = Assert.Throws<BpfLoadException>(() => plain.Load());
        Assert.Contains("has no valid kptr", refused.Message + refused.ToString());
        using var repaired = QuicKernelCrypto.OpenAndLoad(objects.ObjectPath("crypto_probe.bpf.c"));
        Assert.True(repaired.IsLoaded);
    }

    [BpfFact]
    public void Ecb_aes_is_accepted_and_ctr_aes_is_refused_by_bpf_crypto_ctx_create()
    {
        using var obj = Load();
        Assert.Equal(0, Setup(obj, 0, "ecb(aes)"));
        Assert.Equal(0, Setup(obj, 1, "ecb(aes-generic)"));
        // ctr is an skcipher template but not an lskcipher, the only type the BPF "skcipher" crypto type wraps.
        Assert.Equal(-22, Setup(obj, 1, "ctr(aes)"));
        Assert.NotEqual(0, Setup(obj, 1, "gcm(aes)")); // no GCM in the kernel here (CONFIG_CRYPTO_GCM unset), and no AEAD type for BPF anyway
    }

    [BpfTheory]
    [InlineData("ecb(aes)")]
    [InlineData("ecb(aes-generic)")]
    public void A_tc_program_encrypts_map_buffers_with_the_stored_context(string algorithm)
    {
        using var obj = Load();
        Assert.Equal(0, Setup(obj, 0, algorithm));
        var frame = new PacketBuilder().Build(new byte[64]);
        foreach (var length in new[] { 16, 64, 1200, 1504 })
        {
            var plaintext = Enumerable.Range(0, length).Select(i => (byte)(i * 13 + 1)).ToArray();
            var value = new byte[obj.Map("probe_bufs").ValueSize];
            plaintext.CopyTo(value, 0);
            BinaryPrimitives.WriteUInt32LittleEndian(value.AsSpan(2 * BufferSize + 16), (uint)length); // len
            BinaryPrimitives.WriteInt32LittleEndian(value.AsSpan(2 * BufferSize + 24), 99);             // status
            obj.Map("probe_bufs").Update(new byte[4], value);

            var run = obj.Program("probe_encrypt").TestRun(frame, repeat: 2000);
            Assert.Equal(0, run.ReturnValue);
            Assert.True(obj.Map("probe_bufs").TryLookup(new byte[4], value));
            Assert.Equal(0, BinaryPrimitives.ReadInt32LittleEndian(value.AsSpan(2 * BufferSize + 24)));
            Assert.Equal(Convert.ToHexString(EcbReference(plaintext)), Convert.ToHexString(value.AsSpan(BufferSize, length)));
            output.WriteLine($"{algorithm}: {length} bytes in {run.DurationNanoseconds} ns per run");
        }
    }

    [BpfFact]
    public void A_tc_program_encrypts_in_place_in_the_linear_packet()
    {
        using var obj = Load();
        Assert.Equal(0, Setup(obj, 0, "ecb(aes)"));
        var payload = Enumerable.Range(0, 1200).Select(i => (byte)(i * 5)).ToArray();
        var frame = new PacketBuilder().Build(payload);
        const int udpPayload = 42;
        var value = new byte[obj.Map("probe_bufs").ValueSize];
        BinaryPrimitives.WriteUInt32LittleEndian(value.AsSpan(2 * BufferSize + 16), 1200);      // len
        BinaryPrimitives.WriteInt32LittleEndian(value.AsSpan(2 * BufferSize + 24), 99);         // status
        BinaryPrimitives.WriteUInt32LittleEndian(value.AsSpan(2 * BufferSize + 28), udpPayload); // offset (use_iv)
        obj.Map("probe_bufs").Update(new byte[4], value);

        var run = obj.Program("probe_encrypt_skb").TestRun(frame);
        Assert.Equal(0, run.ReturnValue);
        Assert.True(obj.Map("probe_bufs").TryLookup(new byte[4], value));
        Assert.Equal(0, BinaryPrimitives.ReadInt32LittleEndian(value.AsSpan(2 * BufferSize + 24)));
        Assert.Equal(Convert.ToHexString(frame.AsSpan(0, udpPayload)), Convert.ToHexString(run.Output.AsSpan(0, udpPayload)));
        Assert.Equal(Convert.ToHexString(EcbReference(payload)), Convert.ToHexString(run.Output.AsSpan(udpPayload, 1200)));
    }
}
