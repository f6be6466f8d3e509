/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Incremental checksum updates.
 *
 * Why incremental: recomputing the UDP checksum means summing the whole payload; the delta of the few bytes we
 * change is enough and costs the same for a 40-byte or a 9000-byte datagram.
 *
 * Why through the kernel helpers instead of writing the field ourselves: the helpers know skb->ip_summed.
 *  - CHECKSUM_PARTIAL (a socket on this host with tx offload): the field holds only the pseudo-header sum and
 *    the NIC (or skb_checksum_help) adds the data later. Then only pseudo-header changes may touch the field,
 *    data changes must not; BPF_F_PSEUDO_HDR tells the helper which kind of change it is looking at.
 *  - CHECKSUM_COMPLETE (a clone of a received packet): skb->csum is the sum over the packet and is verified
 *    again if the copy is received by a local veth peer; a stale value there makes the receiver fall back to
 *    software and log "hw csum failure". The helpers keep it right, provided that each change is declared as
 *    exactly one of: a data change compensated by the checksum field (nothing to add), or a pseudo-header
 *    change (the field moves, the data does not).
 *
 * Zero checksums: on IPv4 a UDP checksum of 0 means "not computed" and must stay 0, which is what
 * BPF_F_MARK_MANGLED_0 does; it also turns a computed 0 into 0xffff (the same value in one's complement).
 * IPv6 forbids 0, so there we add BPF_F_MARK_ENFORCE: the field is always updated and never ends up 0.
 */
#ifndef FR_CHECKSUM_H
#define FR_CHECKSUM_H

#include "fr_parse.h"

static __always_inline __u32 fr_ipv4_csum_off(const struct fr_packet *pkt)
{
	return pkt->l3_off + __builtin_offsetof(struct iphdr, check);
}

static __always_inline __u32 fr_udp_csum_off(const struct fr_packet *pkt)
{
	return pkt->l4_off + __builtin_offsetof(struct udphdr, check);
}

static __always_inline __u64 fr_udp_csum_flags(const struct fr_packet *pkt)
{
	if (pkt->family == FR_AF_INET6)
		return BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE;
	return BPF_F_MARK_MANGLED_0;
}

/* One's-complement difference between two equally long buffers (length a multiple of 4), added to seed.
 * Negative on error, like the helper. */
static __always_inline __s64 fr_csum_diff(const void *from, const void *to, __u32 len, __u32 seed)
{
	return bpf_csum_diff((__be32 *)from, len, (__be32 *)to, len, seed);
}

/* The IPv4 header checksum covers the header only: addresses changed by diff. */
static __always_inline int fr_ipv4_csum_apply(struct __sk_buff *skb, const struct fr_packet *pkt, __s64 diff)
{
	return bpf_l3_csum_replace(skb, fr_ipv4_csum_off(pkt), 0, diff, 0);
}

/* Addresses are in the UDP pseudo header: the checksum field must follow them although no UDP byte moved. */
static __always_inline int fr_udp_csum_apply_pseudo(struct __sk_buff *skb, const struct fr_packet *pkt, __s64 diff)
{
	return bpf_l4_csum_replace(skb, fr_udp_csum_off(pkt), 0, diff, BPF_F_PSEUDO_HDR | fr_udp_csum_flags(pkt));
}

/* Ports and protocol header bytes are UDP data. */
static __always_inline int fr_udp_csum_apply_data(struct __sk_buff *skb, const struct fr_packet *pkt, __s64 diff)
{
	return bpf_l4_csum_replace(skb, fr_udp_csum_off(pkt), 0, diff, fr_udp_csum_flags(pkt));
}

/* Difference between the protocol header as received and as rewritten. Both copies are FR_HEADER_BUF_LEN
 * bytes with the same zero tail, so the tail contributes nothing; the payload starts at an even offset from
 * the UDP header, so the 16-bit words of the copy line up with the words of the checksum. */
static __always_inline __s64 fr_header_csum_diff(const __u8 *old_h, const __u8 *new_h, __u32 seed)
{
	return fr_csum_diff(old_h, new_h, FR_HEADER_BUF_LEN, seed);
}

#endif /* FR_CHECKSUM_H */
