/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copies for a subscriber of the other IP family (FR_CONFIG_TRANSLATE_FAMILY): an IPv4 upstream datagram leaves as an
 * IPv6 one and the other way round.
 *
 * The headers differ in size (20 bytes without options against 40), so the copy cannot be rewritten in place:
 * bpf_skb_change_proto() makes room (or takes it away) between the MAC and the IP header and switches skb->protocol,
 * then the whole IP header of the new family is written from the subscriber entry. The UDP header, the protocol header
 * and the data do not move relative to each other, so everything after the IP header is rewritten exactly as for a
 * same-family copy (fr_rewrite_l4), at the new offsets.
 *
 * What the new header says: the relay's and the subscriber's addresses, DSCP kept and ECN cleared, hop limit / TTL
 * FR_COPY_TTL, flow label 0 (the same policy as fr_rewrite.h). An IPv4 copy is sent with DF and id 0, as Linux does
 * for an unconnected socket's DF datagrams (RFC 6864: the id of an atomic datagram means nothing); the relay never
 * fragments a copy. IPv4 options are not carried into IPv6 (they describe the publisher's path).
 *
 * MTU: IPv4 -> IPv6 grows the packet by 20 bytes (less the options). Upstream ingress checks the translated length
 * against the subscriber's device before it clones (a copy that does not fit is never made, counted in
 * egress_family_too_big, and the original goes up so userspace can serve it); egress checks again, since the MTU may
 * have changed in between.
 */
#ifndef FR_FAMILY_H
#define FR_FAMILY_H

#include "fr_rewrite.h"

#define FR_IPV4_HDR_LEN 20
#define FR_IPV6_HDR_LEN 40
#define FR_IP_DF 0x4000

/* The UDP checksum of an IPv4 datagram sent without one (field 0) must be computed from scratch for IPv6, which forbids
 * 0. The payload is summed in chunks through the stack; the bound covers the largest UDP datagram. */
#define FR_SUM_CHUNK 64
#define FR_SUM_MAX_CHUNKS (65536 / FR_SUM_CHUNK)

/* fr_translate_family: the translated copy would exceed the device MTU (nothing was changed). */
#define FR_FAMILY_TOO_BIG 1

static __always_inline __u32 fr_ip_header_len(__u8 family)
{
	return family == FR_AF_INET6 ? FR_IPV6_HDR_LEN : FR_IPV4_HDR_LEN;
}

/* The IP packet length of the copy once it is in the family: what must fit the device MTU. */
static __always_inline __u32 fr_translated_l3_len(const struct fr_packet *pkt, __u8 family)
{
	return fr_ip_header_len(family) + (__u32)sizeof(struct udphdr) + pkt->payload_len;
}

/* ifindex 0: the device the skb is on (egress). */
static __always_inline int fr_family_fits(struct __sk_buff *skb, const struct fr_packet *pkt, __u8 family, __u32 ifindex)
{
	__u32 mtu_len = fr_translated_l3_len(pkt, family);

	return bpf_check_mtu(skb, ifindex, &mtu_len, 0, 0) == BPF_MTU_CHK_RET_SUCCESS;
}

/* May upstream ingress clone a packet for a subscriber of the other family (FR_CONFIG_TRANSLATE_FAMILY on, a sane
 * subscriber entry, the translated copy of l3_len bytes fits the device)? Counts why not. A global function, verified
 * once on its own: inlined in the fan-out loop, its branches multiplied the states the verifier walks there (measured
 * with 256 subscribers: 640k verified instructions inlined, against 410k without translation). fr_config is looked up
 * here, not held across the loop (see relay.bpf.c). */
__noinline int fr_family_clone_allowed(struct __sk_buff *skb, __u32 local_family, __u32 remote_family, __u32 ifindex,
				       __u32 l3_len)
{
	struct fr_stats *st = fr_stats_get();

	if (!(fr_config_flags_of(fr_config_get()) & FR_CONFIG_TRANSLATE_FAMILY) || local_family != remote_family) {
		FR_COUNT(st, egress_family_mismatch);
		return 0;
	}
	if (bpf_check_mtu(skb, ifindex, &l3_len, 0, 0) != BPF_MTU_CHK_RET_SUCCESS) {
		FR_COUNT(st, egress_family_too_big);
		return 0;
	}
	return 1;
}

static __always_inline __u16 fr_csum_fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* One's-complement sum (unfolded, as bpf_csum_diff returns it) of len bytes from off, added to seed; negative on error.
 * A global function: the verifier checks it once on its own (its bounded loop is up to a thousand iterations) instead
 * of walking the loop again for every state of the egress program that reaches the call (measured: 330k verified
 * instructions inlined or static). */
__noinline __s64 fr_skb_sum(struct __sk_buff *skb, __u32 off, __u32 len, __u32 seed)
{
	__u8 buf[FR_SUM_CHUNK];
	__s64 sum = seed;
	__u32 i, n;

	/* Whole chunks; the loop does nothing else, so each of its iterations costs the verifier a dozen instructions. */
	for (i = 0; i < FR_SUM_MAX_CHUNKS; i++) {
		if (len < FR_SUM_CHUNK)
			break;
		if (bpf_skb_load_bytes(skb, off, buf, FR_SUM_CHUNK))
			return -1;
		sum = bpf_csum_diff((__be32 *)0, 0, (__be32 *)buf, FR_SUM_CHUNK, (__u32)sum);
		if (sum < 0)
			return -1;
		off += FR_SUM_CHUNK;
		len -= FR_SUM_CHUNK;
	}
	if (len >= FR_SUM_CHUNK)
		return -1; /* longer than any UDP datagram */
	if (len == 0)
		return sum;
	/* The tail, zero padded to whole 32-bit words (zeros add nothing). Chunks start at even offsets from the UDP header,
	 * so the tail's 16-bit words line up with the checksum's. */
	__builtin_memset(buf, 0, sizeof(buf));
	n = len & (FR_SUM_CHUNK - 1);
	if (n == 0 || bpf_skb_load_bytes(skb, off, buf, n))
		return -1;
	n = (n + 3) & ~3u;
	if (n > FR_SUM_CHUNK)
		return -1;
	return bpf_csum_diff((__be32 *)0, 0, (__be32 *)buf, n, (__u32)sum);
}

/* The IPv6 UDP checksum of a datagram that arrived over IPv4 without one (field 0): pseudo header + UDP header +
 * data, summed in full. The field is written like any byte of the packet (BPF_F_RECOMPUTE_CSUM keeps a
 * CHECKSUM_COMPLETE sum right); a computed 0 is sent as 0xffff. */
static __always_inline int fr_udp6_csum_full(struct __sk_buff *skb, const struct fr_packet *pkt, const struct fr_subscriber *sub)
{
	__u32 udp_len = pkt->payload_len + (__u32)sizeof(struct udphdr);
	__be32 len_proto[2] = { bpf_htonl(udp_len), bpf_htonl(IPPROTO_UDP) };
	__s64 sum;
	__u16 check;

	/* Straight from the subscriber entry: every byte of stack is precious next to the summing loop's buffer. */
	sum = bpf_csum_diff((__be32 *)0, 0, (__be32 *)sub->local.addr, 16, 0);
	if (sum >= 0)
		sum = bpf_csum_diff((__be32 *)0, 0, (__be32 *)sub->remote.addr, 16, (__u32)sum);
	if (sum >= 0)
		sum = bpf_csum_diff((__be32 *)0, 0, len_proto, sizeof(len_proto), (__u32)sum);
	if (sum < 0)
		return -1;
	sum = fr_skb_sum(skb, pkt->l4_off, udp_len, (__u32)sum);
	if (sum < 0)
		return -1;
	check = (__u16)~fr_csum_fold((__u64)sum);
	if (check == 0)
		check = 0xffff;
	return bpf_skb_store_bytes(skb, fr_udp_csum_off(pkt), &check, sizeof(check), BPF_F_RECOMPUTE_CSUM);
}

/*
 * Turns the clone into a datagram of the subscriber's family with the subscriber's addressing and fixes the UDP
 * checksum for the new pseudo header; *pkt then gives the new packet's family and offsets. MACs, ports and
 * the protocol header are left to the caller's usual rewrite. Returns 0, -1 on failure (the copy is half made and must
 * be dropped) or FR_FAMILY_TOO_BIG (nothing changed yet).
 */
static __always_inline int fr_translate_family(struct __sk_buff *skb, struct fr_packet *pkt, const struct fr_subscriber *sub)
{
	__u8 to = sub->remote.family;
	__u32 old_ip_len = pkt->l4_off - pkt->l3_off;
	__u32 udp_len = pkt->payload_len + (__u32)sizeof(struct udphdr);
	__u32 old_addr_len, new_addr_len;
	__be16 eth_proto;
	/* Known limit, shared with the same-family rewrite (BPF_F_MARK_MANGLED_0): a CHECKSUM_PARTIAL clone (a publisher on a
	 * local veth with tx offload) whose pseudo-header sum happens to fold to 0 is taken for "no checksum"; the program
	 * cannot read ip_summed to tell the two apart. */
	int no_checksum = pkt->family == FR_AF_INET && pkt->udp_check == 0;
	__s64 diff;

	if (!fr_family_fits(skb, pkt, to, 0))
		return FR_FAMILY_TOO_BIG;

	/* The pseudo header changes by its addresses only: the length and protocol words sum the same in both families
	 * (IPv6's 32-bit length has a zero upper half). Summed from where the addresses already are (no copies: stack). */
	old_addr_len = pkt->family == FR_AF_INET6 ? 16 : 4;
	new_addr_len = to == FR_AF_INET6 ? 16 : 4;
	diff = bpf_csum_diff((__be32 *)pkt->src.addr, old_addr_len, (__be32 *)sub->local.addr, new_addr_len, 0);
	if (diff >= 0)
		diff = bpf_csum_diff((__be32 *)pkt->dst.addr, old_addr_len, (__be32 *)sub->remote.addr, new_addr_len, (__u32)diff);
	if (diff < 0)
		return -1;

	if (to == FR_AF_INET6) {
		struct ipv6hdr ip6 = {};

		/* IPv4 options first (they sit right after the 20-byte base header): then the header is exactly 20 bytes and
		 * the 20 bytes bpf_skb_change_proto inserts make it 40. */
		if (old_ip_len > FR_IPV4_HDR_LEN &&
		    bpf_skb_adjust_room(skb, -(__s32)(old_ip_len - FR_IPV4_HDR_LEN), BPF_ADJ_ROOM_NET, 0))
			return -1;
		if (bpf_skb_change_proto(skb, bpf_htons(ETH_P_IPV6), 0))
			return -1;
		eth_proto = bpf_htons(ETH_P_IPV6);
		ip6.version = 6;
		ip6.priority = (pkt->tos & ~FR_ECN_MASK) >> 4;
		ip6.flow_lbl[0] = (__u8)((pkt->tos & ~FR_ECN_MASK) << 4);
		ip6.payload_len = bpf_htons((__u16)udp_len);
		ip6.nexthdr = IPPROTO_UDP;
		ip6.hop_limit = FR_COPY_TTL;
		__builtin_memcpy(&ip6.saddr, sub->local.addr, 16);
		__builtin_memcpy(&ip6.daddr, sub->remote.addr, 16);
		if (bpf_skb_store_bytes(skb, pkt->l3_off, &ip6, sizeof(ip6), BPF_F_RECOMPUTE_CSUM))
			return -1;
		pkt->l4_off = pkt->l3_off + FR_IPV6_HDR_LEN;
		pkt->family = FR_AF_INET6;
		if (no_checksum) {
			pkt->payload_off = pkt->l4_off + sizeof(struct udphdr);
			if (fr_udp6_csum_full(skb, pkt, sub))
				return -1;
			goto done;
		}
	} else {
		struct iphdr iph = {};
		__s64 hsum;

		if (bpf_skb_change_proto(skb, bpf_htons(ETH_P_IP), 0))
			return -1;
		eth_proto = bpf_htons(ETH_P_IP);
		iph.version = 4;
		iph.ihl = FR_IPV4_HDR_LEN / 4;
		iph.tos = pkt->tos & ~FR_ECN_MASK;
		iph.tot_len = bpf_htons((__u16)(FR_IPV4_HDR_LEN + udp_len));
		iph.id = 0;
		iph.frag_off = bpf_htons(FR_IP_DF);
		iph.ttl = FR_COPY_TTL;
		iph.protocol = IPPROTO_UDP;
		__builtin_memcpy(&iph.saddr, sub->local.addr, 4);
		__builtin_memcpy(&iph.daddr, sub->remote.addr, 4);
		hsum = bpf_csum_diff((__be32 *)0, 0, (__be32 *)&iph, sizeof(iph), 0);
		if (hsum < 0)
			return -1;
		iph.check = (__u16)~fr_csum_fold((__u64)hsum);
		if (bpf_skb_store_bytes(skb, pkt->l3_off, &iph, sizeof(iph), BPF_F_RECOMPUTE_CSUM))
			return -1;
		pkt->l4_off = pkt->l3_off + FR_IPV4_HDR_LEN;
		pkt->family = FR_AF_INET;
	}

	pkt->payload_off = pkt->l4_off + sizeof(struct udphdr);
	if (fr_udp_csum_apply_pseudo(skb, pkt, diff))
		return -1;
done:
	/* The Ethernet type goes with the header (the MACs are the caller's). */
	if (bpf_skb_store_bytes(skb, __builtin_offsetof(struct ethhdr, h_proto), &eth_proto, sizeof(eth_proto),
				BPF_F_RECOMPUTE_CSUM))
		return -1;
	return 0;
}

#endif /* FR_FAMILY_H */
