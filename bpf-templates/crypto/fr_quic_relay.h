/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Encrypted subscriber slots of the relay (issue 16, docs/quic-encrypted-fast-path.md "Wiring into the relay"): a
 * subscriber connection with full 1-RTT protection gets the kernel's copy of a clear-text fast-path packet sealed with
 * its own keys. relay.bpf.c includes this header when the descriptor opts in (FR_ENCRYPTED_SUBSCRIBERS); the upstream
 * stays clear text (0xBAAD, the operator's own side) and is authenticated by construction as on the clear-text path.
 *
 * A slot is encrypted when userspace has written its fr_quic_conns entry (pn_offset != 0) before activating it. For
 * such a slot the egress program:
 *   - grows each copy by the tag's 16 bytes BEFORE the copy takes a packet number (fr_enc_make_room), refusing a copy
 *     that would then exceed the device MTU, so a refused copy takes no number;
 *   - seals it AFTER the clear-text rewrite has written the subscriber's connection id, the kernel's number, the stream id
 *     and offset (fr_enc_seal): AEAD with nonce = IV xor that number, tag, header protection, key phase bit;
 *   - leaves the relay stack's own packets untouched (the stack took their numbers from the mapped fr_next_pn and
 *     sealed them itself: nothing may be renumbered after sealing).
 * Both steps are global functions: the verifier checks each once on its own (the seal is ~61k instructions), instead of
 * again on every path of the egress program that reaches it.
 *
 * Include after the generated header and fr_common.h.
 */
#ifndef FR_QUIC_RELAY_H
#define FR_QUIC_RELAY_H

/* One key set per slot and key phase. */
#define FR_QC_MAX_SLOTS FR_MAX_SUBSCRIBERS

#include "fr_crypto_kfuncs.h"
#include "fr_quic_crypto.h"
#include "fr_quic_packet.h"
#include "fr_quic_install.h"

/* Returned by fr_enc_make_room. */
#define FR_ENC_CLEAR 0   /* not an encrypted slot: the copy is sent as it is */
#define FR_ENC_ROOM 1    /* grown by FR_QC_TAG_LEN bytes: the copy must be sealed or dropped, never sent as it is */
#define FR_ENC_REFUSED 2 /* too big for the device with the tag, or the packet could not be grown: not forwarded */

/* An encrypted slot's fr_next_pn entry carries the key phase its copies are sealed with in bit 63, beside the next packet
 * number (QUIC numbers stay below 2^62): the copy's number and its phase come from one fetch-and-add. At a key update
 * userspace installs the next keys in the other phase and then flips that bit (an atomic compare-and-swap on the mapped
 * word), so every number taken after the flip has the new phase and every one before it the old: copies change phase in
 * number order even when two CPUs number copies across the flip (RFC 9001 §6.4 lets a receiver refuse an old-phase
 * packet numbered above a new-phase one). A clear-text slot never has the bit set. */
#define FR_ENC_PHASE_SHIFT 63
#define FR_ENC_NUMBER_MASK ((1ULL << 62) - 1)

/* The slot seals its packets (userspace wrote its connection entry). */
static __always_inline int fr_enc_slot(__u32 slot)
{
	struct fr_quic_conn *conn = bpf_map_lookup_elem(&fr_quic_conns, &slot);

	return conn && conn->pn_offset;
}

/*
 * A subscriber whose connection id is shorter than the descriptor's (Chromium gives itself none: its short headers carry
 * a 0-byte DCID) gets its copies `cut` bytes shorter: the kernel's clear-text rewrite writes the descriptor's FR_CID_LEN
 * bytes (the first ones the subscriber's id, the rest padding), and the seal, which rebuilds the packet in scratch anyway,
 * leaves the padding out. pn_offset (1 + the subscriber's id length, written by userspace) says how long the id is.
 * 0..FR_CID_LEN; a longer id (no room to grow in the middle) never gets an encrypted slot from userspace.
 */
static __always_inline __u32 fr_enc_cid_cut(const struct fr_quic_conn *conn)
{
	__u32 full = FR_CID_OFFSET + FR_CID_LEN;

	return conn->pn_offset >= FR_CID_OFFSET && conn->pn_offset <= full ? full - conn->pn_offset : 0;
}

/* What an encrypted slot's copy grows by: the tag, less the connection id bytes it loses (fr_enc_cid_cut): 16 for the
 * descriptor's id length, 8 for a subscriber with none. */
static __always_inline __u32 fr_enc_growth(__u32 slot)
{
	struct fr_quic_conn *conn = bpf_map_lookup_elem(&fr_quic_conns, &slot);

	return conn ? FR_QC_TAG_LEN - fr_enc_cid_cut(conn) : FR_QC_TAG_LEN;
}

/* Adds delta to a 16-bit big-endian length at off, with the IPv4 header checksum (l3_csum_off != 0) or only the value. */
static __always_inline int fr_enc_add_len(struct __sk_buff *skb, __u32 off, __u16 delta, __u32 l3_csum_off)
{
	__be16 old_len, new_len;

	if (bpf_skb_load_bytes(skb, off, &old_len, sizeof(old_len)))
		return -1;
	new_len = bpf_htons(bpf_ntohs(old_len) + delta);
	if (l3_csum_off && bpf_l3_csum_replace(skb, l3_csum_off, old_len, new_len, sizeof(new_len)))
		return -1;
	return bpf_skb_store_bytes(skb, off, &new_len, sizeof(new_len), 0) ? -1 : 0;
}

/*
 * For a copy to `slot`, rewritten up to its protocol header: FR_ENC_CLEAR for a clear-text slot (nothing changed);
 * otherwise room for the tag at the end of the UDP payload, less the connection id bytes the seal will leave out
 * (fr_enc_growth): FR_ENC_ROOM, or FR_ENC_REFUSED when the grown packet would exceed the device's MTU or could not be
 * grown. The IP length and the UDP length move by the growth and both checksums follow (the UDP checksum's
 * pseudo-header and header length; the new bytes are not counted until fr_enc_seal has written the packet, which fixes
 * the checksum for them). An IPv4 datagram without a checksum keeps 0.
 */
__noinline int fr_enc_make_room(struct __sk_buff *skb, __u32 slot)
{
	__u32 quic_off, quic_len, mtu_len = 0, udp_off, udp_len, l3 = sizeof(struct ethhdr), growth;
	__be16 old_len, new_len;
	__u16 proto;

	if (!skb || !fr_enc_slot(slot))
		return FR_ENC_CLEAR;
	growth = fr_enc_growth(slot);
	if (fr_qc_udp_payload(skb, &quic_off, &quic_len) || quic_len + growth > FR_QC_MAX_PACKET) {
		fr_qc_count(FR_QC_MALFORMED);
		return FR_ENC_REFUSED;
	}
	/* skb->len + growth against the device this copy leaves by (ifindex 0: skb->dev, the subscriber's). */
	if (bpf_check_mtu(skb, 0, &mtu_len, (__s32)growth, 0) != BPF_MTU_CHK_RET_SUCCESS) {
		fr_qc_count(FR_QC_TOO_BIG);
		return FR_ENC_REFUSED;
	}
	if (bpf_skb_load_bytes(skb, offsetof(struct ethhdr, h_proto), &proto, sizeof(proto)))
		return FR_ENC_REFUSED;
	udp_off = quic_off - sizeof(struct udphdr);
	udp_len = quic_len + sizeof(struct udphdr);
	if (bpf_skb_change_tail(skb, skb->len + growth, 0)) {
		fr_qc_count(FR_QC_TOO_BIG);
		return FR_ENC_REFUSED;
	}
	/* From here the copy is longer than its headers say: every failure must drop it (FR_ENC_REFUSED does). */
	if (proto == bpf_htons(ETH_P_IP)) {
		if (fr_enc_add_len(skb, l3 + offsetof(struct iphdr, tot_len), (__u16)growth, l3 + offsetof(struct iphdr, check)))
			return FR_ENC_REFUSED;
	} else if (fr_enc_add_len(skb, l3 + offsetof(struct ipv6hdr, payload_len), (__u16)growth, 0)) {
		return FR_ENC_REFUSED;
	}
	/* The UDP length is in the checksum twice: the header field and the pseudo-header. */
	old_len = bpf_htons((__u16)udp_len);
	new_len = bpf_htons((__u16)(udp_len + growth));
	if (bpf_skb_store_bytes(skb, udp_off + offsetof(struct udphdr, len), &new_len, sizeof(new_len), 0) ||
	    bpf_l4_csum_replace(skb, udp_off + offsetof(struct udphdr, check), old_len, new_len,
				sizeof(new_len) | BPF_F_MARK_MANGLED_0) ||
	    bpf_l4_csum_replace(skb, udp_off + offsetof(struct udphdr, check), old_len, new_len,
				sizeof(new_len) | BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0))
		return FR_ENC_REFUSED;
	return FR_ENC_ROOM;
}

/*
 * Seals a copy fr_enc_make_room grew, whose header now carries the subscriber's connection id (padded to the
 * descriptor's length, fr_enc_cid_cut) and the low 32 bits of its packet number `pn`: with key phase `phase`
 * (taken with the number from fr_next_pn), in per-CPU scratch, written back with the UDP checksum updated. 0 when sealed; otherwise the copy must be dropped (no keys, a crypto error).
 */
__noinline int fr_enc_seal(struct __sk_buff *skb, __u32 slot, __u64 pn, __u32 phase)
{
	__u32 quic_off, quic_len, cut, growth;
	struct fr_quic_conn *conn;
	struct fr_qc_scratch *s;
	__s64 old_sum, new_sum;
	__u64 *largest;
	int stat;

	if (!skb || fr_qc_prepare(skb, slot, FR_QC_SCRATCH_SEAL, &s, &conn, &largest, &quic_off, &quic_len))
		return -1;
	cut = fr_enc_cid_cut(conn);
	growth = FR_QC_TAG_LEN - cut;
	if (quic_len < FR_QC_TAG_LEN + FR_CID_OFFSET + FR_CID_LEN + 1)
		return -1;
	/* The grown room is not in the checksum yet (its bytes are whatever the grown buffer held). */
	old_sum = fr_qc_sum(s, quic_len - growth, 0);
	if (cut) {
		/* A shorter connection id: everything after the descriptor's id moves up to the subscriber's id's end, and the
		 * packet is then exactly quic_len long again with the tag (growth + cut = 16). Loaded from the packet, which
		 * still has it at the old place; the first pn_offset bytes (first byte, the subscriber's id) stay. */
		__u32 from = FR_CID_OFFSET + FR_CID_LEN, at = conn->pn_offset & 15, n = quic_len - growth - from;

		if (n < 1 || n > FR_QC_MAX_PACKET - FR_QC_TAG_LEN || bpf_skb_load_bytes(skb, quic_off + from, &s->pkt[at], n)) {
			fr_qc_count(FR_QC_MALFORMED);
			return -1;
		}
	}
	stat = fr_qc_seal_scratch(FR_QC_SCRATCH_SEAL, s, conn, slot, quic_len, pn, phase);
	if (stat) {
		fr_qc_count(stat);
		return -1;
	}
	new_sum = fr_qc_sum(s, quic_len, 0);
	if (quic_len > FR_QC_MAX_PACKET || bpf_skb_store_bytes(skb, quic_off, s->pkt, quic_len, 0) ||
	    fr_qc_fix_udp_csum(skb, quic_off, old_sum, new_sum)) {
		fr_qc_count(FR_QC_CRYPTO_ERROR);
		return -1;
	}
	/* The decoding reference of the connection (not used to number: fr_next_pn does), kept for diagnostics. */
	fr_qc_raise_largest(largest, pn);
	fr_qc_count(FR_QC_SEALED);
	return 0;
}

#endif /* FR_QUIC_RELAY_H */
