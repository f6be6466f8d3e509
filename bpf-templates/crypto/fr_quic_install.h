/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The syscall program that turns key bytes from userspace into the AES contexts of one key set (fr_quic_ctxs). Every
 * object that seals or opens includes it, so QuicKernelCrypto (runtime/Bpf/Crypto) can install keys into it. Include
 * after fr_quic_crypto.h.
 */
#ifndef FR_QUIC_INSTALL_H
#define FR_QUIC_INSTALL_H

#include "fr_quic_crypto.h"

/* quic_install_keys's context (BPF_PROG_TEST_RUN ctx_in, copied back with `err` filled in). */
struct fr_quic_install_args {
	__u32 slot;
	__u32 phase;
	__u32 key_len;   /* 16 (AES-128-GCM) or 32 (AES-256-GCM); the hp key has the same length */
	__u32 pad;
	__u8 key[32];
	__u8 hp_key[32];
	char algo[32];   /* the ecb cipher name, e.g. "ecb(aes)" or "ecb(aes-generic)" */
	__s32 err;       /* out: bpf_crypto_ctx_create's error */
	__u32 stage;     /* out: 1 = the AEAD context failed, 2 = the hp context failed */
};

/* Not inlined: its 408-byte parameter block gets its own frame, once. A syscall program may read its context only at
 * constant offsets from the unmodified pointer, so the key and name are read as words, never with memcpy (clang would
 * walk a moved pointer). */
static __noinline struct bpf_crypto_ctx *fr_qc_create(struct fr_quic_install_args *args, int hp, int *err)
{
	struct bpf_crypto_params params = {
		.type = "skcipher",
	};
	__u64 *algo = (__u64 *)params.algo, *key = (__u64 *)params.key;

	algo[0] = *(__u64 *)&args->algo[0];
	algo[1] = *(__u64 *)&args->algo[8];
	algo[2] = *(__u64 *)&args->algo[16];
	algo[3] = *(__u64 *)&args->algo[24];
	params.algo[31] = 0;
	/* Both keys read, one kept without a branch: with a branch clang merges the two reads into one moved pointer. */
	__u64 select = hp ? ~0ULL : 0;
	__u64 a0 = *(__u64 *)&args->key[0], a1 = *(__u64 *)&args->key[8];
	__u64 a2 = *(__u64 *)&args->key[16], a3 = *(__u64 *)&args->key[24];
	__u64 b0 = *(__u64 *)&args->hp_key[0], b1 = *(__u64 *)&args->hp_key[8];
	__u64 b2 = *(__u64 *)&args->hp_key[16], b3 = *(__u64 *)&args->hp_key[24];

	key[0] = a0 ^ ((a0 ^ b0) & select);
	key[1] = a1 ^ ((a1 ^ b1) & select);
	key[2] = a2 ^ ((a2 ^ b2) & select);
	key[3] = a3 ^ ((a3 ^ b3) & select);
	params.key_len = args->key_len == 32 ? 32 : 16;
	return bpf_crypto_ctx_create(&params, sizeof(params), err);
}

SEC("syscall")
int quic_install_keys(struct fr_quic_install_args *args)
{
	struct bpf_crypto_ctx *aead, *hp, *old;
	struct fr_quic_ctx *slot;
	__u32 index;
	int err = 0;

	if (args->slot >= FR_QC_MAX_SLOTS || args->phase > 1)
		return -EINVAL;
	index = args->slot * 2 + args->phase;
	slot = bpf_map_lookup_elem(&fr_quic_ctxs, &index);
	if (!slot)
		return -EINVAL;
	aead = fr_qc_create(args, 0, &err);
	if (!aead) {
		args->err = err;
		args->stage = 1;
		return err ? err : -EINVAL;
	}
	hp = fr_qc_create(args, 1, &err);
	if (!hp) {
		bpf_crypto_ctx_release(aead);
		args->err = err;
		args->stage = 2;
		return err ? err : -EINVAL;
	}
	/* Replaced contexts are released here; a TC program still using one holds it under RCU. */
	old = bpf_kptr_xchg(&slot->aead, aead);
	if (old)
		bpf_crypto_ctx_release(old);
	old = bpf_kptr_xchg(&slot->hp, hp);
	if (old)
		bpf_crypto_ctx_release(old);
	args->err = 0;
	args->stage = 0;
	return 0;
}

#endif
