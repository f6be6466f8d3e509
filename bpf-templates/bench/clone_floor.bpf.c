/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fan-out floor of `fastrelay bench`: the least a kernel fan-out costs with FastRelay's technique (tag, clone to
 * egress, rewrite the clone there), with nothing else on top.
 *
 * TC ingress program `bench_clone_floor` (the relay's upstream device): a UDP datagram (IPv4 or IPv6) to
 * bench_config.port is cloned once per target among the first bench_config.count of bench_targets whose family
 * matches. Each clone is tagged skb->mark = BENCH_MARK_MAGIC | (target index + 1) and sent by
 * bpf_clone_redirect(skb, target ifindex, 0) to that device's egress. The original is never written, so it stays a
 * plain read-only source for every clone; its mark is restored afterwards and it is dropped (TC_ACT_SHOT): nobody
 * upstream of the relay needs it. Everything else is left alone (TC_ACT_UNSPEC).
 *
 * TC egress program `bench_clone_floor_egress` (every target's device; it runs inside bpf_clone_redirect): a packet
 * with our tag is looked up by it, untagged, and rewritten to the target's MACs, addresses and ports (incremental
 * IPv4 header and UDP checksums, bpf_l3/l4_csum_replace) and sent (TC_ACT_OK). The first write un-shares the clone's
 * data from the original: that one copy per subscriber is the unavoidable cost the FastRelay fast path pays too. A
 * tagged packet that cannot be rewritten is dropped (it still carries the upstream's addressing). Anything without
 * our tag: TC_ACT_UNSPEC, untouched.
 *
 * No renumbering, no events, no budget, no per-subscriber state: the FastRelay fast path does all of that on top.
 * bench_config.rotate != 0 starts each packet at the next target (per-CPU counter), as FastRelay does, so that the
 * last target is not always last; 0 (default) always starts at target 0.
 *
 * clang -O2 -g -target bpf -mcpu=v3 -I/usr/include/x86_64-linux-gnu -c clone_floor.bpf.c -o clone_floor.bpf.o
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define BENCH_MAX_TARGETS 64
#define BENCH_AF_INET 2   /* AF_INET */
#define BENCH_AF_INET6 10 /* AF_INET6 */

/* The clone tag: "FB" in the high half (FastRelay's own tag is "FR"), target index + 1 in the low half, so that a
 * mark of exactly the magic never decodes as target 0. */
#define BENCH_MARK_MAGIC 0x46420000u
#define BENCH_MARK_MAGIC_MASK 0xffff0000u
#define BENCH_MARK_INDEX_MASK 0x0000ffffu

/* One copy's destination. Addresses and ports in network byte order; IPv4 addresses in the first 4 bytes. */
struct bench_target {
	__u32 ifindex;       /* device whose egress the copy leaves by (bench_clone_floor_egress attached there) */
	__u8 mac_src[6];     /* that device's MAC */
	__u8 mac_dst[6];     /* the next hop's (the receiver's) MAC */
	__u32 family;        /* BENCH_AF_INET or BENCH_AF_INET6; packets of the other family skip the target */
	__u8 src_ip[16];
	__u8 dst_ip[16];
	__be16 src_port;
	__be16 dst_port;
};

struct bench_config {
	__u32 count;  /* targets in use: bench_targets[0 .. count-1], at most BENCH_MAX_TARGETS */
	__u16 port;   /* UDP destination port to fan out, host byte order */
	__u16 rotate; /* != 0: rotate the start target per packet */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct bench_target);
} bench_targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_config);
} bench_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_rotation SEC(".maps");

#define ETH_HLEN_ 14
#define IP6_HLEN 40

/* A whole UDP datagram's layout, read with direct packet access (the headers are linear on every path we see). */
struct udp_pkt {
	__u32 family, l4_off;
	__u8 addrs[32]; /* src then dst: 4 + 4 (IPv4) or 16 + 16 (IPv6); IPv4 leaves bytes 8.. zero */
	__be16 ports[2];
};

/* 0 and *p filled for a UDP datagram (not a fragment), -1 for anything else. */
static __always_inline int parse_udp(struct __sk_buff *skb, struct udp_pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct udphdr *udp;

	/* Ports are read in each branch: a shared read after the branches lets clang merge the two udp pointers into one
	 * the verifier has not range-checked. */
	if ((void *)(eth + 1) > data_end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > data_end || ip->ihl < 5 || ip->protocol != IPPROTO_UDP)
			return -1;
		if (ip->frag_off & bpf_htons(0x3fff)) /* MF or an offset: not a whole datagram */
			return -1;
		p->l4_off = ETH_HLEN_ + ip->ihl * 4;
		udp = data + p->l4_off;
		if ((void *)(udp + 1) > data_end)
			return -1;
		__builtin_memcpy(&p->addrs[0], &ip->saddr, 4);
		__builtin_memcpy(&p->addrs[4], &ip->daddr, 4);
		p->family = BENCH_AF_INET;
		p->ports[0] = udp->source;
		p->ports[1] = udp->dest;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > data_end || ip6->nexthdr != IPPROTO_UDP)
			return -1;
		p->l4_off = ETH_HLEN_ + IP6_HLEN;
		udp = data + p->l4_off;
		if ((void *)(udp + 1) > data_end)
			return -1;
		__builtin_memcpy(&p->addrs[0], &ip6->saddr, 16);
		__builtin_memcpy(&p->addrs[16], &ip6->daddr, 16);
		p->family = BENCH_AF_INET6;
		p->ports[0] = udp->source;
		p->ports[1] = udp->dest;
	} else {
		return -1;
	}
	return 0;
}

SEC("tc")
int bench_clone_floor(struct __sk_buff *skb)
{
	struct udp_pkt p = {};
	__u32 zero = 0, count, first = 0, mark, i;

	if (parse_udp(skb, &p))
		return TC_ACT_UNSPEC;
	struct bench_config *cfg = bpf_map_lookup_elem(&bench_config, &zero);
	if (!cfg || cfg->count == 0 || p.ports[1] != bpf_htons(cfg->port))
		return TC_ACT_UNSPEC;
	count = cfg->count < BENCH_MAX_TARGETS ? cfg->count : BENCH_MAX_TARGETS;
	if (cfg->rotate) {
		__u32 *r = bpf_map_lookup_elem(&bench_rotation, &zero);
		if (r)
			first = (*r)++ % count;
	}

	mark = skb->mark;
	for (i = 0; i < BENCH_MAX_TARGETS; i++) {
		__u32 key;

		if (i >= count)
			break;
		key = first + i;
		if (key >= count)
			key -= count;
		struct bench_target *t = bpf_map_lookup_elem(&bench_targets, &key);
		if (!t || t->family != p.family)
			continue;
		/* The tag is the only per-clone state that reaches the egress program, which runs inside this call. */
		skb->mark = BENCH_MARK_MAGIC | (key + 1);
		bpf_clone_redirect(skb, t->ifindex, 0);
	}
	skb->mark = mark;
	return TC_ACT_SHOT;
}

SEC("tc")
int bench_clone_floor_egress(struct __sk_buff *skb)
{
	struct udp_pkt p = {};
	__u8 next_addrs[32] = {};
	__be16 next_ports[2];
	__u32 mark = skb->mark, key;
	__u64 l4_flags;

	if ((mark & BENCH_MARK_MAGIC_MASK) != BENCH_MARK_MAGIC || (mark & BENCH_MARK_INDEX_MASK) == 0)
		return TC_ACT_UNSPEC;
	key = (mark & BENCH_MARK_INDEX_MASK) - 1;
	/* The tag has done its job; it must not reach qdiscs, policy routing or the next hop. */
	skb->mark = 0;
	struct bench_target *t = bpf_map_lookup_elem(&bench_targets, &key);
	if (!t || parse_udp(skb, &p) || t->family != p.family)
		return TC_ACT_SHOT; /* a clone we cannot rewrite must not leave with the upstream's addressing */
	const __u32 csum_udp = p.l4_off + __builtin_offsetof(struct udphdr, check);
	/* IPv4: a UDP checksum of 0 (none) stays 0. IPv6: never 0. */
	l4_flags = p.family == BENCH_AF_INET ? BPF_F_MARK_MANGLED_0 : BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE;

	/* L2. The first write un-shares the clone's data. BPF_F_RECOMPUTE_CSUM keeps a CHECKSUM_COMPLETE skb->csum right
	 * (bpf_clone_redirect pushed the MAC header into it, and the veth peer pulls it out again on receive). */
	__u8 macs[12];
	__builtin_memcpy(&macs[0], t->mac_dst, 6);
	__builtin_memcpy(&macs[6], t->mac_src, 6);
	if (bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), BPF_F_RECOMPUTE_CSUM))
		return TC_ACT_SHOT;

	/* L3 addresses: in the IPv4 header checksum and in the UDP pseudo header. */
	if (p.family == BENCH_AF_INET) {
		__builtin_memcpy(&next_addrs[0], t->src_ip, 4);
		__builtin_memcpy(&next_addrs[4], t->dst_ip, 4);
		__s64 diff = bpf_csum_diff((__be32 *)p.addrs, 8, (__be32 *)next_addrs, 8, 0);
		/* No RECOMPUTE_CSUM: the header checksum moves by -diff, so the packet's sum does not change. */
		if (diff < 0
		    || bpf_skb_store_bytes(skb, ETH_HLEN_ + __builtin_offsetof(struct iphdr, saddr), next_addrs, 8, 0)
		    || bpf_l3_csum_replace(skb, ETH_HLEN_ + __builtin_offsetof(struct iphdr, check), 0, diff, 0)
		    || bpf_l4_csum_replace(skb, csum_udp, 0, diff, BPF_F_PSEUDO_HDR | l4_flags))
			return TC_ACT_SHOT;
	} else {
		__builtin_memcpy(&next_addrs[0], t->src_ip, 16);
		__builtin_memcpy(&next_addrs[16], t->dst_ip, 16);
		__s64 diff = bpf_csum_diff((__be32 *)p.addrs, 32, (__be32 *)next_addrs, 32, 0);
		/* No header checksum absorbs the change: RECOMPUTE_CSUM moves skb->csum by diff and the pseudo-header
		 * update takes it back (see bpf-templates/include/fr_rewrite.h). */
		if (diff < 0
		    || bpf_skb_store_bytes(skb, ETH_HLEN_ + __builtin_offsetof(struct ipv6hdr, saddr), next_addrs, 32,
					   BPF_F_RECOMPUTE_CSUM)
		    || bpf_l4_csum_replace(skb, csum_udp, 0, diff, BPF_F_PSEUDO_HDR | l4_flags))
			return TC_ACT_SHOT;
	}

	/* L4 ports: UDP data, compensated by the checksum field. */
	next_ports[0] = t->src_port;
	next_ports[1] = t->dst_port;
	__s64 pdiff = bpf_csum_diff((__be32 *)p.ports, 4, (__be32 *)next_ports, 4, 0);
	if (pdiff < 0 || bpf_skb_store_bytes(skb, p.l4_off, next_ports, 4, 0)
	    || bpf_l4_csum_replace(skb, csum_udp, 0, pdiff, l4_flags))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
