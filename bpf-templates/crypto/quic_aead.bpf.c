/* SPDX-License-Identifier: GPL-2.0 */
/*
 * QUIC AES-128-GCM packet protection in TC, standalone (issue 16, first session): the programs the unit tests run
 * through BPF_PROG_TEST_RUN. Not wired into the relay yet; bpf-templates/relay.bpf.c is unchanged.
 *
 *   quic_install_keys (syscall): creates the AEAD and header protection ecb(aes) contexts of one key set from the key
 *       bytes in its context and stores them as kptrs in fr_quic_ctxs[slot * 2 + phase].
 *   quic_seal (tc): the frame's UDP payload is one QUIC packet with its header in clear (packet number unmasked), the
 *       plaintext payload and 16 bytes of room for the tag; the connection is skb->mark. Sets the key phase bit of a
 *       short header to the connection's send phase, seals, applies header protection.
 *   quic_open (tc): the reverse; picks the key set by the key phase bit, checks the tag before writing anything, and
 *       leaves the header unprotected and the payload in clear (the tag bytes stay). A forged packet: TC_ACT_SHOT,
 *       packet unchanged.
 * Long headers are accepted too (the RFC 9001 A.2 Initial vector): fr_quic_conn.pn_offset says where the packet
 * number is, so nothing here parses QUIC beyond the first byte.
 */
#include "fr_crypto_kfuncs.h"
#include "fr_quic_crypto.h"
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>

char LICENSE[] SEC("license") = "GPL";

/* quic_install_keys's context (BPF_PROG_TEST_RUN ctx_in, copied back with `err` filled in). */
struct fr_quic_install_args {
	__u32 slot;
	__u32 phase;
	__u8 key[16];
	__u8 hp_key[16];
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
		.key_len = 16,
	};
	__u64 *algo = (__u64 *)params.algo, *key = (__u64 *)params.key;

	algo[0] = *(__u64 *)&args->algo[0];
	algo[1] = *(__u64 *)&args->algo[8];
	algo[2] = *(__u64 *)&args->algo[16];
	algo[3] = *(__u64 *)&args->algo[24];
	params.algo[31] = 0;
	/* Both keys read, one kept without a branch: with a branch clang merges the two reads into one moved pointer. */
	__u64 select = hp ? ~0ULL : 0, a0 = *(__u64 *)&args->key[0], a1 = *(__u64 *)&args->key[8];
	__u64 b0 = *(__u64 *)&args->hp_key[0], b1 = *(__u64 *)&args->hp_key[8];

	key[0] = a0 ^ ((a0 ^ b0) & select);
	key[1] = a1 ^ ((a1 ^ b1) & select);
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

/* Offset and length of the UDP payload of an Ethernet frame (IPv4 without options limits, IPv6 without extension
 * headers); -1 if the frame is not UDP. */
static __always_inline int fr_qc_udp_payload(struct __sk_buff *skb, __u32 *offset, __u32 *len)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct udphdr *udp;
	__u32 l4;

	if ((void *)(eth + 1) > end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP || ip->ihl < 5)
			return -1;
		l4 = sizeof(*eth) + ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_UDP)
			return -1;
		l4 = sizeof(*eth) + sizeof(*ip6);
	} else {
		return -1;
	}
	if (l4 > 128)
		return -1;
	udp = data + l4;
	if ((void *)(udp + 1) > end)
		return -1;
	*offset = l4 + sizeof(*udp);
	*len = bpf_ntohs(udp->len);
	if (*len < sizeof(*udp) || *offset + *len - sizeof(*udp) > skb->len)
		return -1;
	*len -= sizeof(*udp);
	return 0;
}

/* Loads the connection, its packet's bytes into scratch and checks they can carry a sample. */
static __always_inline int fr_qc_prepare(struct __sk_buff *skb, struct fr_qc_scratch **sp, struct fr_quic_conn **connp,
					 __u32 *quic_off, __u32 *quic_len)
{
	__u32 slot = skb->mark;
	struct fr_quic_conn *conn;
	struct fr_qc_scratch *s;
	__u32 len;

	if (fr_qc_udp_payload(skb, quic_off, quic_len))
		return -1;
	conn = bpf_map_lookup_elem(&fr_quic_conns, &slot);
	s = fr_qc_scratch();
	if (!conn || !s)
		return -1;
	if (conn->pn_offset == 0) { /* never configured: not a connection with kernel keys */
		fr_qc_count(FR_QC_NO_KEYS);
		return -1;
	}
	len = *quic_len;
	if (len < (__u32)conn->pn_offset + 4 + FR_QC_SAMPLE_LEN || len > FR_QC_MAX_PACKET) {
		fr_qc_count(FR_QC_MALFORMED);
		return -1;
	}
	if (bpf_skb_load_bytes(skb, *quic_off, s->pkt, len))
		return -1;
	*sp = s;
	*connp = conn;
	return 0;
}

/* The packet number field as a number, without a loop: the sample rule guarantees 4 readable bytes at pn_offset.
 * (Byte loops with "if (i < pn_len)" multiply the verifier's states by every later branch.) */
static __always_inline __u32 fr_qc_read_pn(struct fr_qc_scratch *s, __u32 pn_offset, __u32 pn_len)
{
	__u32 word = bpf_ntohl(*(__u32 *)&s->pkt[pn_offset & (FR_QC_MAX_HEADER - 1)]);

	return word >> (8 * (4 - pn_len));
}

/* XORs the mask's bytes 1..pn_len into the packet number field (header protection either way). */
static __always_inline void fr_qc_mask_pn(struct fr_qc_scratch *s, __u32 pn_offset, __u32 pn_len)
{
	__u32 at = pn_offset & (FR_QC_MAX_HEADER - 1);
	/* The top pn_len bytes of the big-endian word; a 64-bit shift so pn_len = 4 (a shift by 32) is defined. */
	__u32 keep = (__u32)~(0xffffffffULL >> (8 * pn_len));

	*(__u32 *)&s->pkt[at] ^= bpf_htonl(bpf_ntohl(*(__u32 *)&s->mask[1]) & keep);
}

/* The UDP checksum after the QUIC bytes changed: old sum out, new sum in, as one diff (bpf_l4_csum_replace with
 * size 0). A datagram sent without a checksum (IPv4, field 0) keeps it 0 (BPF_F_MARK_MANGLED_0), and a result of 0 is
 * sent as 0xffff. Returns nonzero when the checksum could not be kept right (the caller then drops the packet). */
static __always_inline int fr_qc_fix_udp_csum(struct __sk_buff *skb, __u32 quic_off, __s64 old_sum, __s64 new_sum)
{
	__s64 diff;

	if (old_sum < 0 || new_sum < 0)
		return -1;
	/* new - old: bpf_csum_diff subtracts its "from" words; the folded old sum is a 32-bit word like any other. */
	diff = bpf_csum_diff((__be32 *)0, 0, (__be32 *)0, 0, (__u32)new_sum);
	{
		__u32 old = (__u32)old_sum;

		diff = bpf_csum_diff((__be32 *)&old, sizeof(old), (__be32 *)0, 0, (__u32)diff);
	}
	if (diff < 0)
		return -1;
	return bpf_l4_csum_replace(skb, quic_off - 2, 0, (__u32)diff, BPF_F_MARK_MANGLED_0);
}

SEC("tc")
int quic_seal(struct __sk_buff *skb)
{
	__u32 slot = skb->mark, quic_off, quic_len, pn_offset, pn_len, header_len, key_index, truncated = 0;
	struct fr_quic_key_set *keys;
	struct fr_quic_conn *conn;
	struct fr_qc_scratch *s;
	struct fr_quic_ctx *ctxs;
	__s64 old_sum, new_sum;
	__u64 pn;
	__u8 first, fmask;
	int err;

	if (fr_qc_prepare(skb, &s, &conn, &quic_off, &quic_len))
		return TC_ACT_OK;
	old_sum = fr_qc_sum(s, quic_len, 0);
	first = s->pkt[0];
	if (!(first & 0x80)) /* short header: the key phase bit is the connection's current one */
		first = (first & ~0x04) | (conn->send_phase ? 0x04 : 0);
	s->pkt[0] = first;
	pn_offset = conn->pn_offset;
	pn_len = (first & 0x03) + 1;
	header_len = pn_offset + pn_len;
	if (header_len > FR_QC_MAX_HEADER || header_len + FR_QC_TAG_LEN > quic_len) {
		fr_qc_count(FR_QC_MALFORMED);
		return TC_ACT_OK;
	}
	truncated = fr_qc_read_pn(s, pn_offset, pn_len);
	pn = fr_qc_decode_pn(conn->largest_pn, truncated, pn_len);
	key_index = slot * 2 + ((first & 0x80) ? 0 : conn->send_phase);
	ctxs = bpf_map_lookup_elem(&fr_quic_ctxs, &key_index);
	keys = bpf_map_lookup_elem(&fr_quic_keys, &key_index);
	if (!ctxs || !keys || !keys->ready) {
		fr_qc_count(FR_QC_NO_KEYS);
		return TC_ACT_OK;
	}
	err = fr_qc_aead(s, ctxs, keys, key_index, pn, header_len, quic_len - header_len - FR_QC_TAG_LEN, 0);
	if (!err)
		err = fr_qc_hp_mask(s, ctxs, pn_offset);
	if (err) {
		fr_qc_count(err == -ENOKEY ? FR_QC_NO_KEYS : FR_QC_CRYPTO_ERROR);
		return TC_ACT_OK;
	}
	fmask = fr_qc_first_byte_mask(first);
	s->pkt[0] = first ^ (s->mask[0] & fmask);
	fr_qc_mask_pn(s, pn_offset, pn_len);
	new_sum = fr_qc_sum(s, quic_len, 0);
	if (quic_len > FR_QC_MAX_PACKET || bpf_skb_store_bytes(skb, quic_off, s->pkt, quic_len, 0))
		return TC_ACT_SHOT;
	if (fr_qc_fix_udp_csum(skb, quic_off, old_sum, new_sum))
		return TC_ACT_SHOT;
	if (pn > conn->largest_pn)
		conn->largest_pn = pn;
	fr_qc_count(FR_QC_SEALED);
	return TC_ACT_OK;
}

SEC("tc")
int quic_open(struct __sk_buff *skb)
{
	__u32 slot = skb->mark, quic_off, quic_len, pn_offset, pn_len, header_len, key_index, truncated = 0, phase;
	struct fr_quic_key_set *keys;
	struct fr_quic_conn *conn;
	struct fr_qc_scratch *s;
	struct fr_quic_ctx *ctxs;
	__s64 old_sum, new_sum;
	__u8 first, fmask;
	__u64 pn;
	int err;

	if (fr_qc_prepare(skb, &s, &conn, &quic_off, &quic_len))
		return TC_ACT_OK;
	/* Header and payload change, the tag stays: the checksum diff covers [0, quic_len - 16). */
	old_sum = fr_qc_sum(s, quic_len - FR_QC_TAG_LEN, 0);
	pn_offset = conn->pn_offset;
	/* The header protection key is the same in both phases; phase 0's set is always installed first. */
	key_index = slot * 2;
	ctxs = bpf_map_lookup_elem(&fr_quic_ctxs, &key_index);
	if (!ctxs) {
		fr_qc_count(FR_QC_NO_KEYS);
		return TC_ACT_SHOT;
	}
	err = fr_qc_hp_mask(s, ctxs, pn_offset);
	if (err) {
		fr_qc_count(err == -ENOKEY ? FR_QC_NO_KEYS : FR_QC_CRYPTO_ERROR);
		return TC_ACT_SHOT;
	}
	first = s->pkt[0];
	fmask = fr_qc_first_byte_mask(first);
	first ^= s->mask[0] & fmask;
	s->pkt[0] = first;
	pn_len = (first & 0x03) + 1;
	header_len = pn_offset + pn_len;
	if (header_len > FR_QC_MAX_HEADER || header_len + FR_QC_TAG_LEN > quic_len) {
		fr_qc_count(FR_QC_MALFORMED);
		return TC_ACT_SHOT;
	}
	fr_qc_mask_pn(s, pn_offset, pn_len);
	truncated = fr_qc_read_pn(s, pn_offset, pn_len);
	pn = fr_qc_decode_pn(conn->largest_pn, truncated, pn_len);
	phase = (first & 0x80) ? 0 : (first >> 2) & 1;
	key_index = slot * 2 + phase;
	ctxs = bpf_map_lookup_elem(&fr_quic_ctxs, &key_index);
	keys = bpf_map_lookup_elem(&fr_quic_keys, &key_index);
	if (!ctxs || !keys || !keys->ready) {
		fr_qc_count(FR_QC_NO_KEYS);
		return TC_ACT_SHOT;
	}
	err = fr_qc_aead(s, ctxs, keys, key_index, pn, header_len, quic_len - header_len - FR_QC_TAG_LEN, 1);
	if (err) {
		fr_qc_count(err == 1 ? FR_QC_AUTH_FAILED : err == -ENOKEY ? FR_QC_NO_KEYS : FR_QC_CRYPTO_ERROR);
		return TC_ACT_SHOT;
	}
	/* Authenticated: now the header and plaintext may replace the packet's bytes (the tag stays as it was). */
	new_sum = fr_qc_sum(s, quic_len - FR_QC_TAG_LEN, 0);
	if (bpf_skb_store_bytes(skb, quic_off, s->pkt, quic_len - FR_QC_TAG_LEN, 0))
		return TC_ACT_SHOT;
	if (fr_qc_fix_udp_csum(skb, quic_off, old_sum, new_sum))
		return TC_ACT_SHOT;
	if (pn > conn->largest_pn)
		conn->largest_pn = pn;
	fr_qc_count(FR_QC_OPENED);
	return TC_ACT_OK;
}
