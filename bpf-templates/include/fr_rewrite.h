/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Turning an upstream datagram into one addressed to a subscriber: MACs, IP addresses, UDP ports, the
 * protocol header (connection id, packet number, stream id) and every checksum that covers them.
 *
 * The clone shares its data with the original and with the other subscribers' clones. The store and
 * checksum helpers unshare (copy) the part they write before writing, so no other copy ever sees our bytes.
 */
#ifndef FR_REWRITE_H
#define FR_REWRITE_H

#include "fr_checksum.h"

/* Ethernet: the kernel does not resolve neighbours for a redirected skb, so userspace gives us both MACs. */
static __always_inline int fr_rewrite_l2(struct __sk_buff *skb, const struct fr_subscriber *sub)
{
	__u8 macs[2 * ETH_ALEN];

	__builtin_memcpy(&macs[0], sub->mac_dst, ETH_ALEN);
	__builtin_memcpy(&macs[ETH_ALEN], sub->mac_src, ETH_ALEN);
	/* BPF_F_RECOMPUTE_CSUM: a clone redirected from ingress carries a CHECKSUM_COMPLETE sum that includes
	 * the MAC header (bpf_clone_redirect pushed it in), and a veth peer pulls it out again on receive. */
	return bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), BPF_F_RECOMPUTE_CSUM);
}

/*
 * A copy is a new datagram from the relay, not the publisher's one passed on, so the IP fields that describe the
 * publisher's path are reset: the TTL / hop limit (it would leak how far away the publisher is and, low enough, expire
 * on the way to the subscriber), the ECN field (a CE mark is congestion on the publisher's path that the subscriber's
 * connection never saw, and the relay did not negotiate ECN with the subscriber) and the IPv6 flow label (the
 * publisher's flow, not the relay's). DSCP stays: it is the publisher's class for the data, which the copy keeps.
 */
#define FR_COPY_TTL 64
#define FR_ECN_MASK 0x03

/* Source becomes the relay's local endpoint, destination the subscriber; TTL and ECN are reset. */
static __always_inline int fr_rewrite_ipv4(struct __sk_buff *skb, const struct fr_packet *pkt,
					   const struct fr_subscriber *sub)
{
	/* The header's 16-bit words that change, side by side: (0, TOS), (TTL, 0), then the addresses. A one's-complement
	 * sum does not care where a word sits, only which byte of it a value is, so one diff over this buffer is the whole
	 * header change and the header checksum takes it in a single update. The UDP pseudo header covers the addresses
	 * only, so the UDP checksum takes the address part alone. */
	__u8 old_h[12] = {}, new_h[12] = {};
	__s64 addr_diff, header_diff;

	old_h[1] = pkt->tos;
	new_h[1] = pkt->tos & ~FR_ECN_MASK;
	old_h[2] = pkt->ttl;
	new_h[2] = FR_COPY_TTL;
	__builtin_memcpy(&old_h[4], pkt->src.addr, 4);
	__builtin_memcpy(&old_h[8], pkt->dst.addr, 4);
	__builtin_memcpy(&new_h[4], sub->local.addr, 4);
	__builtin_memcpy(&new_h[8], sub->remote.addr, 4);

	addr_diff = fr_csum_diff(&old_h[4], &new_h[4], 8, 0);
	if (addr_diff < 0)
		return -1;
	header_diff = fr_csum_diff(old_h, new_h, 4, (__u32)addr_diff);
	if (header_diff < 0)
		return -1;
	/* No BPF_F_RECOMPUTE_CSUM: the header checksum moves by -diff, so the packet's sum does not change. */
	if (bpf_skb_store_bytes(skb, pkt->l3_off + __builtin_offsetof(struct iphdr, tos), &new_h[1], 1, 0) ||
	    bpf_skb_store_bytes(skb, pkt->l3_off + __builtin_offsetof(struct iphdr, ttl), &new_h[2], 1, 0) ||
	    bpf_skb_store_bytes(skb, pkt->l3_off + __builtin_offsetof(struct iphdr, saddr), &new_h[4], 8, 0))
		return -1;
	if (fr_ipv4_csum_apply(skb, pkt, header_diff))
		return -1;
	return fr_udp_csum_apply_pseudo(skb, pkt, addr_diff);
}

/* Version, traffic class without ECN, flow label 0; and the hop limit. No checksum covers them, but a
 * CHECKSUM_COMPLETE sum does: BPF_F_RECOMPUTE_CSUM keeps it right. */
static __always_inline int fr_rewrite_ipv6_path_fields(struct __sk_buff *skb, const struct fr_packet *pkt)
{
	__be32 first = bpf_htonl(0x60000000u | (__u32)(pkt->tos & ~FR_ECN_MASK) << 20);
	__u8 hop_limit = FR_COPY_TTL;

	if (bpf_skb_store_bytes(skb, pkt->l3_off, &first, sizeof(first), BPF_F_RECOMPUTE_CSUM))
		return -1;
	return bpf_skb_store_bytes(skb, pkt->l3_off + __builtin_offsetof(struct ipv6hdr, hop_limit), &hop_limit,
				   sizeof(hop_limit), BPF_F_RECOMPUTE_CSUM);
}

static __always_inline int fr_rewrite_ipv6(struct __sk_buff *skb, const struct fr_packet *pkt,
					   const struct fr_subscriber *sub)
{
	__u8 old_a[32], new_a[32];
	__s64 diff;

	__builtin_memcpy(&old_a[0], pkt->src.addr, 16);
	__builtin_memcpy(&old_a[16], pkt->dst.addr, 16);
	__builtin_memcpy(&new_a[0], sub->local.addr, 16);
	__builtin_memcpy(&new_a[16], sub->remote.addr, 16);

	diff = fr_csum_diff(old_a, new_a, sizeof(old_a), 0);
	if (diff < 0)
		return -1;
	/* IPv6 has no header checksum to absorb the change, so the packet's sum does move: BPF_F_RECOMPUTE_CSUM
	 * adds diff to skb->csum. The pseudo-header update below subtracts it again (without BPF_F_IPV6 the helper
	 * assumes IPv4's compensating header checksum; we do not pass that flag because older kernels reject it),
	 * netting the correct 0 for CHECKSUM_COMPLETE skbs on every kernel. */
	if (bpf_skb_store_bytes(skb, pkt->l3_off + __builtin_offsetof(struct ipv6hdr, saddr), new_a, sizeof(new_a),
				BPF_F_RECOMPUTE_CSUM))
		return -1;
	if (fr_udp_csum_apply_pseudo(skb, pkt, diff))
		return -1;
	return fr_rewrite_ipv6_path_fields(skb, pkt);
}

static __always_inline int fr_rewrite_l3(struct __sk_buff *skb, const struct fr_packet *pkt,
					 const struct fr_subscriber *sub)
{
	if (pkt->family == FR_AF_INET)
		return fr_rewrite_ipv4(skb, pkt, sub);
	return fr_rewrite_ipv6(skb, pkt, sub);
}

/* Writes the first len bytes of the rewritten protocol header and fixes the UDP checksum for it (and, when ports is
 * non-NULL, for the new source/destination ports) with a single checksum update. Bytes of the buffers past len must be
 * equal in both (they add nothing to the difference). len is a compile-time constant at every call. */
static __always_inline int fr_rewrite_l4(struct __sk_buff *skb, const struct fr_packet *pkt, const __be16 *ports,
					 const __u8 *old_h, const __u8 *new_h, __u32 len)
{
	__s64 diff = 0;

	if (ports) {
		__be16 old_p[2] = { pkt->src.port, pkt->dst.port };

		diff = fr_csum_diff(old_p, ports, sizeof(old_p), 0);
		if (diff < 0)
			return -1;
		if (bpf_skb_store_bytes(skb, pkt->l4_off, ports, sizeof(old_p), 0))
			return -1;
	}
	diff = fr_header_csum_diff(old_h, new_h, (__u32)diff);
	if (diff < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, pkt->payload_off, new_h, len, 0))
		return -1;
	return fr_udp_csum_apply_data(skb, pkt, diff);
}

#endif /* FR_REWRITE_H */
