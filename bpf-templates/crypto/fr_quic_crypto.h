/* SPDX-License-Identifier: GPL-2.0 */
/*
 * QUIC 1-RTT packet protection with AES-GCM (128- or 256-bit keys) inside a TC program (issue 16): seal and open of
 * one QUIC packet, RFC 9001 §5.3 (AEAD: nonce = IV xor packet number, AAD = the header) and §5.4 (header protection).
 *
 * The kernel offers AES only as the `ecb(aes)` skcipher of the BPF crypto kfuncs (`ctr(aes)` is not an lskcipher, so
 * bpf_crypto_ctx_create refuses it, see docs/quic-encrypted-fast-path.md). So:
 *   - CTR mode is built from ECB: the counter blocks J0, J0+1, ... are written into per-CPU scratch and encrypted with
 *     ONE bpf_crypto_encrypt call per packet; the keystream is XORed into the payload here;
 *   - GHASH is computed here with a per-key table T[i][b] = (b at byte i) * H (16 x 256 entries of 16 bytes = 64 KiB),
 *     made by userspace from H = AES_K(0^128) (runtime/Bpf/Crypto/GhashTable.cs). X * H is then the XOR of 16 table
 *     entries, one per byte of X: no bit loop and no reduction in the kernel;
 *   - header protection is a second ecb(aes) context (the hp key) over the 16-byte sample.
 * The packet is copied into per-CPU scratch with bpf_skb_load_bytes and written back with bpf_skb_store_bytes, which
 * unclones a cloned skb first, so a clone never writes into the data it shares with the original and the kfunc never
 * depends on the packet being linear.
 *
 * Keys reach the kernel from userspace only: the AES contexts through the syscall program quic_install_keys (run with
 * BPF_PROG_TEST_RUN, key bytes in its context), the IV and GHASH table through fr_quic_keys, the per-connection layout
 * and send key phase through fr_quic_conns, the packet number reference through fr_quic_pns (then raised by the
 * kernel). Index of a key set: slot * 2 + key phase.
 *
 * Include after fr_crypto_kfuncs.h. FR_QC_MAX_SLOTS (connections) may be defined before including.
 */
#ifndef FR_QUIC_CRYPTO_H
#define FR_QUIC_CRYPTO_H

#include "fr_crypto_kfuncs.h"
#include <bpf/bpf_endian.h>
#include <linux/errno.h>

#ifndef FR_QC_MAX_SLOTS
#define FR_QC_MAX_SLOTS 16
#endif
#define FR_QC_MAX_KEYS (FR_QC_MAX_SLOTS * 2)

/* The largest QUIC packet (the UDP payload) handled; longer ones are left alone (counted). 1536 > any 1500-MTU packet. */
#define FR_QC_MAX_PACKET 1536
/* Header bytes before the payload (first byte + connection id + packet number; a long header up to here too). */
#define FR_QC_MAX_HEADER 64
#define FR_QC_TAG_LEN 16
#define FR_QC_SAMPLE_LEN 16
/* Counter blocks: J0 for the tag, then one per 16 bytes of payload. */
#define FR_QC_MAX_BLOCKS (1 + FR_QC_MAX_PACKET / 16)
#define FR_QC_GHASH_WORDS (16 * 256 * 2)

/* fr_quic_ctxs value: the two AES contexts of one key set (the hp context is the same key for both phases, RFC 9001
 * §6: header protection keys do not change on key update; it is simply created again with each set). */
struct fr_quic_ctx {
	struct bpf_crypto_ctx __kptr *aead;
	struct bpf_crypto_ctx __kptr *hp;
};

/* fr_quic_keys value: the AEAD IV and the GHASH table of one key set. `ready` is written last by userspace. */
struct fr_quic_key_set {
	__u8 iv[12];
	__u32 ready;
	__u64 ghash[FR_QC_GHASH_WORDS]; /* [byte position][byte value][2 words], words as read little-endian */
};

/* fr_quic_conns value: one connection's layout, written by userspace only (the kernel never writes it, so userspace
 * may rewrite it whole at any time without losing a kernel update). */
struct fr_quic_conn {
	__u8 pn_offset;   /* bytes before the packet number: 1 + DCID length for a short header */
	__u8 send_phase;  /* key phase of packets sealed now (0/1): userspace flips it after installing the next keys (the
	                   * relay's sealed slots take the phase with the number instead: bit 63 of fr_next_pn) */
	__u8 pad[6];
};

enum fr_qc_stat {
	FR_QC_SEALED = 0,
	FR_QC_OPENED,
	FR_QC_AUTH_FAILED,  /* tag mismatch: forged, corrupted or wrong keys; the packet is not changed */
	FR_QC_NO_KEYS,      /* no context / table for the connection's key set */
	FR_QC_MALFORMED,    /* too short to sample, too long, header past FR_QC_MAX_HEADER */
	FR_QC_CRYPTO_ERROR, /* a kfunc returned an error */
	FR_QC_TOO_BIG,      /* relay: a copy that would exceed its device's MTU with the tag (or could not grow): not forwarded */
	FR_QC_STACK_PASSED, /* relay: a packet the stack sealed itself (numbered from fr_next_pn), left untouched */
	FR_QC_STAT_COUNT,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FR_QC_MAX_KEYS);
	__type(key, __u32);
	__type(value, struct fr_quic_ctx);
} fr_quic_ctxs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FR_QC_MAX_KEYS);
	__type(key, __u32);
	__type(value, struct fr_quic_key_set);
} fr_quic_keys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FR_QC_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct fr_quic_conn);
} fr_quic_conns SEC(".maps");

/* fr_quic_pns: slot -> the largest packet number sealed or opened on the connection, the reference for decoding
 * truncated numbers (RFC 9000 A.3) and, when forwarding, the last number given. Userspace sets it once when the slot
 * is activated; from then on only the kernel raises it (the same split as the fast path's credit limit and used). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FR_QC_MAX_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} fr_quic_pns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FR_QC_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} fr_quic_crypto_stats SEC(".maps");

/* Per-CPU working memory: TC runs with bottom halves off, so one packet at a time per CPU. pkt has 16 bytes of slack
 * so the last (partial) block can always be read as two words. Two entries: FR_QC_SCRATCH_OPEN for the packet a
 * program opens (in forwarding, upstream ingress leaves its plaintext there while the clones it makes run their egress
 * program synchronously on the same CPU) and FR_QC_SCRATCH_SEAL for the copy being sealed. */
#define FR_QC_SCRATCH_OPEN 0
#define FR_QC_SCRATCH_SEAL 1
struct fr_qc_scratch {
	__u8 ctr[FR_QC_MAX_BLOCKS * 16];
	__u8 ks[FR_QC_MAX_BLOCKS * 16];
	__u8 pkt[FR_QC_MAX_PACKET + 16];
	__u8 mask[16];
	__u32 seq;   /* forwarding: which upstream packet the plaintext belongs to (carried in the clones' mark) */
	__u32 valid; /* forwarding: set while the plaintext may be read by clones */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct fr_qc_scratch);
} fr_quic_scratch SEC(".maps");

static __always_inline void fr_qc_count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&fr_quic_crypto_stats, &stat);

	if (v)
		*v += 1;
}

static __always_inline struct fr_qc_scratch *fr_qc_scratch(__u32 index)
{
	return bpf_map_lookup_elem(&fr_quic_scratch, &index);
}

/* RFC 9000 Appendix A.3. */
static __always_inline __u64 fr_qc_decode_pn(__u64 largest, __u32 truncated, __u32 pn_len)
{
	__u64 expected = largest + 1;
	__u64 win = 1ULL << (pn_len * 8);
	__u64 hwin = win / 2;
	__u64 candidate = (expected & ~(win - 1)) | truncated;

	if (candidate + hwin <= expected && candidate < (1ULL << 62) - win)
		return candidate + win;
	if (candidate > expected + hwin && candidate >= win)
		return candidate - win;
	return candidate;
}

/* Y = (Y ^ X) * H with the byte-position table: 16 lookups, no reduction. Words are 16 bytes read little-endian, so
 * byte i of the block is bits 8i..8i+7 of w0 (i < 8) or of w1. */
static __noinline void fr_qc_ghash_mul(const __u64 *table, __u64 *y0, __u64 *y1)
{
	__u64 a = *y0, b = *y1, z0 = 0, z1 = 0;
	__u32 idx;

	/* Not unrolled: unrolled, clang keeps every loaded entry live and spills ~200 bytes of stack, and the whole
	 * call chain has 512. The verifier walks the 8 iterations once per call site. */
#pragma clang loop unroll(disable)
	for (int i = 0; i < 8; i++) {
		idx = (i * 256 + (a & 0xff)) * 2;
		z0 ^= table[idx];
		z1 ^= table[idx + 1];
		idx = ((i + 8) * 256 + (b & 0xff)) * 2;
		z0 ^= table[idx];
		z1 ^= table[idx + 1];
		a >>= 8;
		b >>= 8;
	}
	*y0 = z0;
	*y1 = z1;
}

/* Keeps the first n (0..16) bytes of a block held as two little-endian words. */
static __always_inline void fr_qc_keep(__u64 *w0, __u64 *w1, __u32 n)
{
	if (n >= 16)
		return;
	if (n >= 8) {
		*w1 &= n == 8 ? 0 : (~0ULL >> (64 - 8 * (n - 8)));
		return;
	}
	*w1 = 0;
	*w0 &= n == 0 ? 0 : (~0ULL >> (64 - 8 * n));
}

enum fr_qc_mode {
	FR_QC_HASH_ONLY = 0, /* the AAD: GHASH only */
	FR_QC_SEAL = 1,      /* plaintext: XOR the keystream, then GHASH the ciphertext */
	FR_QC_OPEN = 2,      /* ciphertext: GHASH it, then XOR the keystream */
};

/* State shared by the block loop's iterations (bpf_loop callback context, on the caller's stack). Loops run through
 * bpf_loop so the verifier checks one iteration, not up to 97. */
struct fr_qc_loop {
	__u32 scratch;    /* FR_QC_SCRATCH_* */
	__u32 key_index;
	__u32 base;       /* offset in scratch->pkt of the first block */
	__u32 len;        /* bytes from base */
	__u32 mode;
	__u64 y0, y1;
	__s32 failed;
};

/* One 16-byte block k at base + 16k: CTR with keystream block k + 1 (unless FR_QC_HASH_ONLY), GHASH over the
 * ciphertext, zero-padded past len. */
static long fr_qc_block(__u32 k, struct fr_qc_loop *l)
{
	struct fr_quic_key_set *keys;
	struct fr_qc_scratch *s;
	__u32 off, ks_off, n, key_index = l->key_index;
	__u64 p0, p1, k0, k1, c0, c1;

	s = fr_qc_scratch(l->scratch);
	keys = bpf_map_lookup_elem(&fr_quic_keys, &key_index);
	if (!s || !keys) {
		l->failed = 1;
		return 1;
	}
	if (k * 16 >= l->len)
		return 1;
	n = l->len - k * 16;
	off = l->base + k * 16;
	ks_off = (k + 1) * 16;
	if (off > FR_QC_MAX_PACKET || ks_off > (FR_QC_MAX_BLOCKS - 1) * 16) {
		l->failed = 1;
		return 1;
	}
	p0 = *(__u64 *)&s->pkt[off];
	p1 = *(__u64 *)&s->pkt[off + 8];
	c0 = p0;
	c1 = p1;
	if (l->mode != FR_QC_HASH_ONLY) {
		k0 = *(__u64 *)&s->ks[ks_off];
		k1 = *(__u64 *)&s->ks[ks_off + 8];
		if (l->mode == FR_QC_SEAL) {
			c0 = p0 ^ k0;
			c1 = p1 ^ k1;
		}
		/* Open: the plaintext goes to scratch only; the packet is written after the tag is checked. A partial last
		 * block also overwrites the tag's first bytes in scratch: the caller read the tag before the loop. */
		*(__u64 *)&s->pkt[off] = p0 ^ k0;
		*(__u64 *)&s->pkt[off + 8] = p1 ^ k1;
	}
	fr_qc_keep(&c0, &c1, n);
	l->y0 ^= c0;
	l->y1 ^= c1;
	fr_qc_ghash_mul(keys->ghash, &l->y0, &l->y1);
	return 0;
}

struct fr_qc_ctr_fill {
	__u32 scratch;
	__u32 pad;
	__u64 n0;
	__u32 n1;
	__u32 failed;
};

/* Counter block i: nonce || BE32(1 + i). */
static long fr_qc_ctr_block(__u32 i, struct fr_qc_ctr_fill *f)
{
	struct fr_qc_scratch *s = fr_qc_scratch(f->scratch);

	if (!s || i >= FR_QC_MAX_BLOCKS) {
		f->failed = 1;
		return 1;
	}
	*(__u64 *)&s->ctr[i * 16] = f->n0;
	*(__u32 *)&s->ctr[i * 16 + 8] = f->n1;
	*(__u32 *)&s->ctr[i * 16 + 12] = bpf_htonl(i + 1);
	return 0;
}

/* AES-ECB of `len` bytes of scratch (src_off in pkt or the counter blocks) with one context. */
static __always_inline int fr_qc_ecb(struct bpf_crypto_ctx *cctx, void *src, __u32 src_size, __u32 src_off, __u32 len,
				     void *dst, __u32 dst_size)
{
	struct bpf_dynptr in, out;
	int err;

	bpf_dynptr_from_mem(src, src_size, 0, &in);
	bpf_dynptr_from_mem(dst, dst_size, 0, &out);
	err = bpf_dynptr_adjust(&in, src_off, src_off + len);
	if (err)
		return err;
	return bpf_crypto_encrypt(cctx, &in, &out, NULL);
}

/*
 * The AEAD over scratch->pkt: header [0, header_len), payload [header_len, + payload_len), tag after it.
 * Seal: encrypts the payload in place and writes the tag. Open: checks the tag and, only if it matches, leaves the
 * plaintext in place; returns 1 on a tag mismatch (scratch payload then undefined, the packet untouched).
 */
static __always_inline int fr_qc_aead(__u32 scratch, struct fr_qc_scratch *s, struct fr_quic_ctx *ctxs,
				      struct fr_quic_key_set *keys, __u32 key_index, __u64 pn, __u32 header_len,
				      __u32 payload_len, int open)
{
	struct bpf_crypto_ctx *aead;
	struct fr_qc_loop l = { .scratch = scratch, .key_index = key_index, .len = header_len, .mode = FR_QC_HASH_ONLY };
	struct fr_qc_ctr_fill fill;
	__u64 tag0, tag1, t0, t1;
	__u32 blocks, tag_off;
	int err;

	aead = ctxs->aead;
	if (!aead)
		return -ENOKEY;
	if (header_len > FR_QC_MAX_HEADER || payload_len > FR_QC_MAX_PACKET - FR_QC_MAX_HEADER - FR_QC_TAG_LEN)
		return -EMSGSIZE;

	/* Nonce = IV xor the packet number left-padded to 12 bytes; one ECB call makes the whole keystream. */
	fill.n0 = *(__u64 *)&keys->iv[0] ^ ((__u64)bpf_htonl((__u32)(pn >> 32)) << 32);
	fill.n1 = *(__u32 *)&keys->iv[8] ^ bpf_htonl((__u32)pn);
	fill.failed = 0;
	fill.scratch = scratch;
	blocks = 1 + (payload_len + 15) / 16;
	bpf_loop(blocks, fr_qc_ctr_block, &fill, 0);
	if (fill.failed)
		return -EFAULT;
	err = fr_qc_ecb(aead, s->ctr, sizeof(s->ctr), 0, blocks * 16, s->ks, sizeof(s->ks));
	if (err)
		return err;

	tag_off = header_len + payload_len;
	if (tag_off > FR_QC_MAX_PACKET - FR_QC_TAG_LEN)
		return -EMSGSIZE;
	tag0 = *(__u64 *)&s->pkt[tag_off];
	tag1 = *(__u64 *)&s->pkt[tag_off + 8];

	/* GHASH of the header (the AAD), then of the ciphertext, each zero-padded to whole blocks. */
	bpf_loop((header_len + 15) / 16, fr_qc_block, &l, 0);
	l.base = header_len;
	l.len = payload_len;
	l.mode = open ? FR_QC_OPEN : FR_QC_SEAL;
	if (payload_len)
		bpf_loop((payload_len + 15) / 16, fr_qc_block, &l, 0);
	if (l.failed)
		return -EFAULT;
	/* The lengths block: bit lengths of AAD and ciphertext, 64-bit big-endian each. */
	l.y0 ^= bpf_cpu_to_be64((__u64)header_len * 8);
	l.y1 ^= bpf_cpu_to_be64((__u64)payload_len * 8);
	fr_qc_ghash_mul(keys->ghash, &l.y0, &l.y1);
	t0 = l.y0 ^ *(__u64 *)&s->ks[0];
	t1 = l.y1 ^ *(__u64 *)&s->ks[8];

	if (open)
		return ((t0 ^ tag0) | (t1 ^ tag1)) ? 1 : 0;
	*(__u64 *)&s->pkt[tag_off] = t0;
	*(__u64 *)&s->pkt[tag_off + 8] = t1;
	return 0;
}

/* One's-complement sum (unfolded, as bpf_csum_diff returns it) of scratch->pkt[0, len), added to seed; negative on
 * error. The same arithmetic as fr_skb_sum in include/fr_family.h, but over scratch (that header needs the generated
 * protocol header). The QUIC packet starts 8 bytes into the UDP header, so its 16-bit words line up with the
 * checksum's; a tail of 1-3 bytes is added as one zero-padded word (zeros add nothing), never by reading past len, so
 * the bytes after len (an open's tag) are not counted. A global function: the verifier checks it once on its own;
 * static, it was walked again for every state of the caller reaching a call (seal: 467k instructions instead of 86k). */
__noinline __s64 fr_qc_sum(struct fr_qc_scratch *s, __u32 len, __u32 seed)
{
	__u32 off = 0, n, tail = 0;
	__s64 sum = seed;

	if (!s || len > FR_QC_MAX_PACKET)
		return -1;
	for (int i = 0; i < FR_QC_MAX_PACKET / 512; i++) {
		n = len - off;
		if (n > 512)
			n = 512;
		n &= ~3u;
		if (n == 0)
			break;
		if (off > FR_QC_MAX_PACKET - 512)
			return -1;
		sum = bpf_csum_diff((__be32 *)0, 0, (__be32 *)&s->pkt[off], n, (__u32)sum);
		if (sum < 0)
			return -1;
		off += n;
	}
	n = len - off;
	if (n == 0)
		return sum;
	if (n > 3 || off > FR_QC_MAX_PACKET - 4)
		return -1;
	/* The word at off read whole (pkt has slack after FR_QC_MAX_PACKET) and cut to its first n bytes in a register. */
	tail = *(__u32 *)&s->pkt[off] & (0xffffffffU >> (8 * (4 - n)));
	return bpf_csum_diff((__be32 *)0, 0, (__be32 *)&tail, sizeof(tail), (__u32)sum);
}

/* The header protection mask for the sample at pn_offset + 4 (RFC 9001 §5.4.2), into scratch->mask. */
static __always_inline int fr_qc_hp_mask(struct fr_qc_scratch *s, struct fr_quic_ctx *ctxs, __u32 pn_offset)
{
	struct bpf_crypto_ctx *hp = ctxs->hp;
	__u32 sample = pn_offset + 4;

	if (!hp)
		return -ENOKEY;
	if (sample > FR_QC_MAX_HEADER)
		return -EMSGSIZE;
	return fr_qc_ecb(hp, s->pkt, sizeof(s->pkt), sample, FR_QC_SAMPLE_LEN, s->mask, sizeof(s->mask));
}

static __always_inline __u8 fr_qc_first_byte_mask(__u8 first)
{
	return (first & 0x80) ? 0x0f : 0x1f; /* long header: 4 bits, short header: 5 bits (RFC 9001 §5.4.1) */
}

#endif
