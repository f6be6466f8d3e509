/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Ethernet -> IPv4 (any IHL) | IPv6 (UDP as the next header) -> UDP.
 *
 * Headers are copied out with bpf_skb_load_bytes() rather than read through skb->data/data_end: a clone or a
 * GRO/paged skb may keep the IP or UDP header outside the linear area, where direct packet access cannot see it
 * and would make us skip (or worse, half-handle) a perfectly valid datagram. The copy is ~60 bytes per packet.
 *
 * Every length the packet claims is checked against what is really there, so a truncated or lying packet is
 * reported as such and the caller leaves it untouched.
 */
#ifndef FR_PARSE_H
#define FR_PARSE_H

#include "fr_common.h"

/* Kernel-internal in net/ip.h, not exported to UAPI. */
#define FR_IP_MF     0x2000
#define FR_IP_OFFSET 0x1FFF

enum fr_parse_result {
	FR_PARSE_OK = 0,
	/* Not an IPv4/IPv6 UDP datagram we handle (other ethertype, VLAN tag, other protocol, IPv6 extension
	 * header, fragment, jumbogram). Not ours: pass it on untouched. */
	FR_PARSE_OTHER,
	/* Looks like IPv4/IPv6 but a header or a claimed length runs past the end of the packet. */
	FR_PARSE_TRUNCATED,
};

struct fr_packet {
	__u32 l3_off;       /* IP header */
	__u32 l4_off;       /* UDP header */
	__u32 payload_off;  /* UDP payload = start of the protocol header */
	__u32 payload_len;  /* UDP payload bytes according to the UDP length field */
	__u8 family;        /* FR_AF_INET | FR_AF_INET6 */
	__u8 _pad0;
	__be16 udp_check;   /* as received; 0 on IPv4 means "no checksum" */
	__u8 tos;           /* IPv4 TOS / IPv6 traffic class: DSCP << 2 | ECN */
	__u8 ttl;           /* IPv4 TTL / IPv6 hop limit */
	__u8 _pad1[2];
	struct fr_endpoint src;
	struct fr_endpoint dst;
};

static __always_inline int fr_parse_ipv4(struct __sk_buff *skb, struct fr_packet *pkt)
{
	struct iphdr iph;
	__u32 ihl_len, tot_len;

	if (bpf_skb_load_bytes(skb, pkt->l3_off, &iph, sizeof(iph)))
		return FR_PARSE_TRUNCATED;
	if (iph.version != 4 || iph.ihl < 5)
		return FR_PARSE_OTHER;
	if (iph.protocol != IPPROTO_UDP)
		return FR_PARSE_OTHER;
	/* Later fragments carry no UDP header and the first one only part of the datagram: rewriting either
	 * would corrupt what the receiver reassembles. */
	if (iph.frag_off & bpf_htons(FR_IP_MF | FR_IP_OFFSET))
		return FR_PARSE_OTHER;

	ihl_len = (__u32)iph.ihl * 4;
	tot_len = bpf_ntohs(iph.tot_len);
	/* skb->len may exceed tot_len (Ethernet minimum-frame padding); the other way round is a cut packet. */
	if (tot_len < ihl_len + sizeof(struct udphdr) || pkt->l3_off + tot_len > skb->len)
		return FR_PARSE_TRUNCATED;

	pkt->family = FR_AF_INET;
	pkt->tos = iph.tos;
	pkt->ttl = iph.ttl;
	pkt->l4_off = pkt->l3_off + ihl_len;
	pkt->payload_len = tot_len - ihl_len; /* upper bound, narrowed by the UDP length below */
	pkt->src.family = FR_AF_INET;
	pkt->dst.family = FR_AF_INET;
	__builtin_memcpy(pkt->src.addr, &iph.saddr, 4);
	__builtin_memcpy(pkt->dst.addr, &iph.daddr, 4);
	return FR_PARSE_OK;
}

static __always_inline int fr_parse_ipv6(struct __sk_buff *skb, struct fr_packet *pkt)
{
	struct ipv6hdr ip6;
	__u32 plen;

	if (bpf_skb_load_bytes(skb, pkt->l3_off, &ip6, sizeof(ip6)))
		return FR_PARSE_TRUNCATED;
	if (ip6.version != 6)
		return FR_PARSE_OTHER;
	/* No extension header walk: a relay's own datagrams never carry one, and anything we do not fully
	 * understand must go to the stack as it is. */
	if (ip6.nexthdr != IPPROTO_UDP)
		return FR_PARSE_OTHER;
	plen = bpf_ntohs(ip6.payload_len);
	if (plen == 0) /* jumbogram (hop-by-hop option): not ours */
		return FR_PARSE_OTHER;
	if (plen < sizeof(struct udphdr) || pkt->l3_off + sizeof(ip6) + plen > skb->len)
		return FR_PARSE_TRUNCATED;

	pkt->family = FR_AF_INET6;
	pkt->tos = (__u8)(ip6.priority << 4 | ip6.flow_lbl[0] >> 4);
	pkt->ttl = ip6.hop_limit;
	pkt->l4_off = pkt->l3_off + sizeof(ip6);
	pkt->payload_len = plen;
	pkt->src.family = FR_AF_INET6;
	pkt->dst.family = FR_AF_INET6;
	__builtin_memcpy(pkt->src.addr, &ip6.saddr, 16);
	__builtin_memcpy(pkt->dst.addr, &ip6.daddr, 16);
	return FR_PARSE_OK;
}

/* Fills *pkt; on FR_PARSE_OK every offset and length in it is inside the packet. The endpoints are zero
 * padded, so they can be used directly as fr_sub_by_endpoint keys. */
static __always_inline int fr_parse_udp(struct __sk_buff *skb, struct fr_packet *pkt)
{
	struct ethhdr eth;
	struct udphdr udp;
	__u32 udp_len;
	int rc;

	__builtin_memset(pkt, 0, sizeof(*pkt));
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return FR_PARSE_OTHER;
	pkt->l3_off = sizeof(eth);

	if (eth.h_proto == bpf_htons(ETH_P_IP))
		rc = fr_parse_ipv4(skb, pkt);
	else if (eth.h_proto == bpf_htons(ETH_P_IPV6))
		rc = fr_parse_ipv6(skb, pkt);
	else
		return FR_PARSE_OTHER;
	if (rc != FR_PARSE_OK)
		return rc;

	if (bpf_skb_load_bytes(skb, pkt->l4_off, &udp, sizeof(udp)))
		return FR_PARSE_TRUNCATED;
	udp_len = bpf_ntohs(udp.len);
	/* The UDP length must fit inside what the IP header says it carries. */
	if (udp_len < sizeof(udp) || udp_len > pkt->payload_len)
		return FR_PARSE_TRUNCATED;

	pkt->payload_off = pkt->l4_off + sizeof(udp);
	pkt->payload_len = udp_len - sizeof(udp);
	pkt->udp_check = udp.check;
	pkt->src.port = udp.source;
	pkt->dst.port = udp.dest;
	return FR_PARSE_OK;
}

/* Copies the first FR_HEADER_LEN payload bytes into buf (FR_HEADER_BUF_LEN bytes, already zeroed). Only
 * FR_HEADER_LEN bytes are read so that a datagram of exactly FR_HEADER_LEN payload bytes still qualifies;
 * the zero tail up to FR_HEADER_BUF_LEN is what lets bpf_csum_diff() work in 4-byte words. */
static __always_inline int fr_load_prefix(struct __sk_buff *skb, const struct fr_packet *pkt, __u8 *buf, __u32 len)
{
	if (pkt->payload_len < len)
		return -1;
	return bpf_skb_load_bytes(skb, pkt->payload_off, buf, len) ? -1 : 0;
}

static __always_inline int fr_load_header(struct __sk_buff *skb, const struct fr_packet *pkt, __u8 *buf)
{
	return fr_load_prefix(skb, pkt, buf, FR_HEADER_LEN);
}

static __always_inline int fr_endpoint_addr_eq(const struct fr_endpoint *a, const struct fr_endpoint *b)
{
	__u32 n = a->family == FR_AF_INET6 ? 16 : 4;

	for (__u32 i = 0; i < 16; i++) {
		if (i >= n)
			break;
		if (a->addr[i] != b->addr[i])
			return 0;
	}
	return 1;
}

/* Same family, address and port. Only the bytes the family uses are compared, so an IPv4 endpoint that
 * userspace wrote with junk after addr[3] still matches. */
static __always_inline int fr_endpoint_eq(const struct fr_endpoint *a, const struct fr_endpoint *b)
{
	return a->family == b->family && a->port == b->port && fr_endpoint_addr_eq(a, b);
}

#endif /* FR_PARSE_H */
