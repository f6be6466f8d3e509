/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Feasibility probe for issue 16 (not part of the relay): can a syscall program create skcipher contexts for
 * `ecb(aes)` and `ctr(aes)` and keep them as kptrs, and can a TC program encrypt with them? Each step reports an
 * errno in probe_status so the tests (and docs/quic-encrypted-fast-path.md) can say exactly what the kernel refused.
 */
#include "fr_crypto_kfuncs.h"
#include <linux/pkt_cls.h>

char LICENSE[] SEC("license") = "GPL";

struct probe_ctx_value {
	struct bpf_crypto_ctx __kptr *ctx;
};

/* 0: the ecb(aes) context, 1: the ctr(aes) context (or whichever algorithm userspace named). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct probe_ctx_value);
} probe_ctxs SEC(".maps");

/* The syscall program's argument, passed as BPF_PROG_TEST_RUN's ctx_in and copied back with the results. */
struct probe_setup_args {
	__u32 index;      /* which probe_ctxs entry */
	__u32 key_len;
	__u8 key[32];
	char algo[32];    /* e.g. "ecb(aes)", NUL-terminated */
	__s32 err;        /* out: bpf_crypto_ctx_create's error, 0 on success */
	__u32 siv_len;    /* unused by the kernel side; kept for the record */
};

/* Scratch for the TC side: the kfunc's dynptrs must point at memory the verifier can size, so map values. */
#define PROBE_BUF 1520
struct probe_buf {
	__u8 in[PROBE_BUF];
	__u8 out[PROBE_BUF];
	__u8 iv[16];
	__u32 len;        /* bytes of in[] to encrypt */
	__u32 index;      /* which context */
	__s32 status;     /* the kfunc's return */
	__u32 use_iv;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct probe_buf);
} probe_bufs SEC(".maps");

SEC("syscall")
int probe_setup(struct probe_setup_args *args)
{
	struct bpf_crypto_params params = {
		.type = "skcipher",
	};
	struct probe_ctx_value *slot;
	struct bpf_crypto_ctx *cctx, *old;
	__u32 index = args->index;
	int err = 0;

	if (args->key_len > sizeof(args->key))
		return 1;
	__builtin_memcpy(params.algo, args->algo, sizeof(args->algo));
	params.algo[sizeof(args->algo) - 1] = 0;
	__builtin_memcpy(params.key, args->key, sizeof(args->key));
	params.key_len = args->key_len;

	slot = bpf_map_lookup_elem(&probe_ctxs, &index);
	if (!slot)
		return 2;
	cctx = bpf_crypto_ctx_create(&params, sizeof(params), &err);
	args->err = err;
	if (!cctx)
		return 3;
	old = bpf_kptr_xchg(&slot->ctx, cctx);
	if (old)
		bpf_crypto_ctx_release(old);
	return 0;
}

/* Encrypts probe_bufs.in[0, len) into out[] with context `index`, optionally with iv[16] as the IV (ctr). */
SEC("tc")
int probe_encrypt(struct __sk_buff *skb)
{
	struct bpf_dynptr src, dst, siv;
	struct probe_ctx_value *slot;
	struct bpf_crypto_ctx *cctx;
	struct probe_buf *buf;
	__u32 zero = 0, index, len;

	buf = bpf_map_lookup_elem(&probe_bufs, &zero);
	if (!buf)
		return TC_ACT_SHOT;
	index = buf->index;
	len = buf->len;
	if (len == 0 || len > PROBE_BUF)
		return TC_ACT_SHOT;
	slot = bpf_map_lookup_elem(&probe_ctxs, &index);
	if (!slot)
		return TC_ACT_SHOT;
	/* A plain load under TC's RCU read lock: the kptr is RCU-protected, so no acquire/release (neither is allowed
	 * from TC) and no window where another CPU finds the slot empty. */
	cctx = slot->ctx;
	if (!cctx) {
		buf->status = -2;
		return TC_ACT_SHOT;
	}
	bpf_dynptr_from_mem(buf->in, PROBE_BUF, 0, &src);
	bpf_dynptr_from_mem(buf->out, PROBE_BUF, 0, &dst);
	bpf_dynptr_adjust(&src, 0, len);
	bpf_dynptr_from_mem(buf->iv, sizeof(buf->iv), 0, &siv);
	buf->status = bpf_crypto_encrypt(cctx, &src, &dst, buf->use_iv ? &siv : NULL);
	return TC_ACT_OK;
}


/* In place in the packet: src and dst are the same skb dynptr over [probe_buf.index .. + len) of the frame. Tells
 * whether the kfunc can work on packet memory directly (it can only while that range is in the linear area). */
SEC("tc")
int probe_encrypt_skb(struct __sk_buff *skb)
{
	struct bpf_dynptr pkt;
	struct probe_ctx_value *slot;
	struct bpf_crypto_ctx *cctx;
	struct probe_buf *buf;
	__u32 zero = 0, len, offset;

	buf = bpf_map_lookup_elem(&probe_bufs, &zero);
	if (!buf)
		return TC_ACT_SHOT;
	len = buf->len;
	offset = buf->use_iv; /* reused as the packet offset */
	if (len == 0 || len > PROBE_BUF || offset > 1500)
		return TC_ACT_SHOT;
	slot = bpf_map_lookup_elem(&probe_ctxs, &zero);
	if (!slot)
		return TC_ACT_SHOT;
	cctx = slot->ctx;
	if (!cctx)
		return TC_ACT_SHOT;
	if (bpf_dynptr_from_skb(skb, 0, &pkt))
		return TC_ACT_SHOT;
	if (bpf_dynptr_adjust(&pkt, offset, offset + len)) {
		buf->status = -1000;
		return TC_ACT_OK;
	}
	buf->status = bpf_crypto_encrypt(cctx, &pkt, &pkt, NULL);
	return TC_ACT_OK;
}
