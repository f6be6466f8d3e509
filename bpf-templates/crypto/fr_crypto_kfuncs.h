/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's BPF crypto kfuncs (kernel/bpf/crypto.c, 6.10+), declared here because the build uses the distribution's
 * UAPI headers (6.1), not a vmlinux.h. The layouts must match the running kernel's BTF:
 *   - struct bpf_crypto_params is passed with its size (params__sz) and the kernel refuses any other size;
 *   - struct bpf_crypto_ctx is opaque to us, but a kptr's pointee must be a *defined* struct in the program's BTF
 *     (a forward declaration is refused by the kptr parser); the verifier then matches it by name against vmlinux,
 *     so the member below is never used and only makes the type complete.
 */
#ifndef FR_CRYPTO_KFUNCS_H
#define FR_CRYPTO_KFUNCS_H

#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

struct bpf_crypto_ctx {
	void *fr_opaque;
};

struct bpf_crypto_params {
	char type[14];
	__u8 reserved[2];
	char algo[128];
	__u8 key[256];
	__u32 key_len;
	__u32 authsize;
};

/* Only from BPF_PROG_TYPE_SYSCALL programs (may sleep: allocates the transform). */
extern struct bpf_crypto_ctx *bpf_crypto_ctx_create(const struct bpf_crypto_params *params, __u32 params__sz, int *err) __ksym;
extern struct bpf_crypto_ctx *bpf_crypto_ctx_acquire(struct bpf_crypto_ctx *ctx) __ksym;
extern void bpf_crypto_ctx_release(struct bpf_crypto_ctx *ctx) __ksym;

/* From TC (and XDP) programs: src and dst dynptrs, dst writable and at least as long as src; siv is NULL for ECB. */
extern int bpf_crypto_encrypt(struct bpf_crypto_ctx *ctx, const struct bpf_dynptr *src, const struct bpf_dynptr *dst,
			      const struct bpf_dynptr *siv__nullable) __ksym;
extern int bpf_crypto_decrypt(struct bpf_crypto_ctx *ctx, const struct bpf_dynptr *src, const struct bpf_dynptr *dst,
			      const struct bpf_dynptr *siv__nullable) __ksym;

extern int bpf_dynptr_adjust(const struct bpf_dynptr *ptr, __u32 start, __u32 end) __ksym;
extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;

#endif
