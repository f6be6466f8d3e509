/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Packet-level pieces of the kernel's QUIC packet protection (issue 16), shared by quic_aead.bpf.c (seal/open one
 * packet) and quic_forward.bpf.c (open upstream once, seal each clone): finding the QUIC bytes in a frame, loading
 * them into scratch, the packet number field, the seal and open cores over scratch, and the UDP checksum update.
 * Include after fr_quic_crypto.h.
 */
#ifndef FR_QUIC_PACKET_H
#define FR_QUIC_PACKET_H

#include "fr_quic_crypto.h"
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>

/* Offset and length of the UDP payload of an Ethernet frame (IPv4 unfragmented, IPv6 without extension headers);
 * -1 if the frame is not such a UDP datagram. */
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
		/* A fragment carries part of a datagram (or none of its UDP header): never a whole QUIC packet. */
		if (ip->frag_off & bpf_htons(0x3fff))
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

/* Loads connection `slot`, and the packet's QUIC bytes into scratch entry `scratch`; checks they can carry a sample. */
static __always_inline int fr_qc_prepare(struct __sk_buff *skb, __u32 slot, __u32 scratch, struct fr_qc_scratch **sp,
					 struct fr_quic_conn **connp, __u64 **largestp, __u32 *quic_off, __u32 *quic_len)
{
	struct fr_quic_conn *conn;
	__u64 *largest;
	struct fr_qc_scratch *s;
	__u32 len;

	if (fr_qc_udp_payload(skb, quic_off, quic_len))
		return -1;
	conn = bpf_map_lookup_elem(&fr_quic_conns, &slot);
	largest = bpf_map_lookup_elem(&fr_quic_pns, &slot);
	s = fr_qc_scratch(scratch);
	if (!conn || !largest || !s)
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
	*largestp = largest;
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


/*
 * Seals the packet in scratch (header in clear with its packet number field already holding the low bytes of `pn`,
 * plaintext, 16 bytes of room for the tag) with connection `slot`'s key set of key phase `phase` (0/1; the caller reads
 * conn->send_phase, the relay when it takes the packet number): sets a short header's key phase bit, encrypts, appends
 * the tag, applies header protection. Returns 0 or an FR_QC_* statistic to count.
 */
static __always_inline int fr_qc_seal_scratch(__u32 scratch, struct fr_qc_scratch *s, struct fr_quic_conn *conn,
					      __u32 slot, __u32 quic_len, __u64 pn, __u32 phase)
{
	__u32 pn_offset = conn->pn_offset, pn_len, header_len, key_index;
	struct fr_quic_key_set *keys;
	struct fr_quic_ctx *ctxs;
	__u8 first;
	int err;

	first = s->pkt[0];
	if (!(first & 0x80)) /* short header: the key phase bit is the connection's current one */
		first = (first & ~0x04) | (phase ? 0x04 : 0);
	s->pkt[0] = first;
	pn_len = (first & 0x03) + 1;
	header_len = pn_offset + pn_len;
	if (header_len > FR_QC_MAX_HEADER || header_len + FR_QC_TAG_LEN > quic_len)
		return FR_QC_MALFORMED;
	key_index = slot * 2 + ((first & 0x80) ? 0 : (phase ? 1 : 0));
	ctxs = bpf_map_lookup_elem(&fr_quic_ctxs, &key_index);
	keys = bpf_map_lookup_elem(&fr_quic_keys, &key_index);
	if (!ctxs || !keys || !keys->ready)
		return FR_QC_NO_KEYS;
	err = fr_qc_aead(scratch, s, ctxs, keys, key_index, pn, header_len, quic_len - header_len - FR_QC_TAG_LEN, 0);
	if (!err)
		err = fr_qc_hp_mask(s, ctxs, pn_offset);
	if (err)
		return err == -ENOKEY ? FR_QC_NO_KEYS : FR_QC_CRYPTO_ERROR;
	s->pkt[0] = first ^ (s->mask[0] & fr_qc_first_byte_mask(first));
	fr_qc_mask_pn(s, pn_offset, pn_len);
	return 0;
}

/*
 * Opens the packet in scratch with connection `slot`'s keys: removes header protection, picks the key set by the key
 * phase bit, checks the tag. On success (0) scratch holds the unprotected header and the plaintext and *pn the full
 * packet number; otherwise an FR_QC_* statistic, and scratch is garbage (the packet itself was never touched).
 */
static __always_inline int fr_qc_open_scratch(__u32 scratch, struct fr_qc_scratch *s, struct fr_quic_conn *conn,
					      __u64 largest, __u32 slot, __u32 quic_len, __u64 *pn, __u32 *header_lenp)
{
	__u32 pn_offset = conn->pn_offset, pn_len, header_len, key_index = slot * 2;
	struct fr_quic_key_set *keys;
	struct fr_quic_ctx *ctxs;
	__u8 first;
	int err;

	/* The header protection key is the same in both phases; phase 0's set is always installed first. */
	ctxs = bpf_map_lookup_elem(&fr_quic_ctxs, &key_index);
	if (!ctxs)
		return FR_QC_NO_KEYS;
	err = fr_qc_hp_mask(s, ctxs, pn_offset);
	if (err)
		return err == -ENOKEY ? FR_QC_NO_KEYS : FR_QC_CRYPTO_ERROR;
	first = s->pkt[0];
	first ^= s->mask[0] & fr_qc_first_byte_mask(first);
	s->pkt[0] = first;
	pn_len = (first & 0x03) + 1;
	header_len = pn_offset + pn_len;
	if (header_len > FR_QC_MAX_HEADER || header_len + FR_QC_TAG_LEN > quic_len)
		return FR_QC_MALFORMED;
	fr_qc_mask_pn(s, pn_offset, pn_len);
	*pn = fr_qc_decode_pn(largest, fr_qc_read_pn(s, pn_offset, pn_len), pn_len);
	key_index = slot * 2 + ((first & 0x80) ? 0 : (first >> 2) & 1);
	ctxs = bpf_map_lookup_elem(&fr_quic_ctxs, &key_index);
	keys = bpf_map_lookup_elem(&fr_quic_keys, &key_index);
	if (!ctxs || !keys || !keys->ready)
		return FR_QC_NO_KEYS;
	err = fr_qc_aead(scratch, s, ctxs, keys, key_index, *pn, header_len, quic_len - header_len - FR_QC_TAG_LEN, 1);
	if (err)
		return err == 1 ? FR_QC_AUTH_FAILED : err == -ENOKEY ? FR_QC_NO_KEYS : FR_QC_CRYPTO_ERROR;
	*header_lenp = header_len;
	return 0;
}

/* Raises the connection's largest packet number (decoding reference), never lowers it. Two CPUs raising it at once
 * may leave the smaller of two new values; decoding only needs it within 2^31 of the truth. */
static __always_inline void fr_qc_raise_largest(__u64 *largest, __u64 pn)
{
	if (pn > *largest)
		*largest = pn;
}

#endif
