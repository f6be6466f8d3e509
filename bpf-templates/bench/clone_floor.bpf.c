/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fan-out floor of `fastrelay bench`: the least a kernel fan-out can cost.
 *
 * TC ingress program `bench_clone_floor`: a UDP datagram (IPv4 or IPv6) to bench_config.port is copied to each of the
 * first bench_config.count targets of bench_targets whose family matches: the program rewrites the original in place
 * to the target's MACs, addresses and ports (incremental IPv4 header and UDP checksums, bpf_l3/l4_csum_replace), then
 * bpf_clone_redirect(skb, target ifindex, 0) sends a copy out of that device's egress. The next target's rewrite
 * starts from the previous one's values. After the last target the original is dropped (TC_ACT_SHOT): nobody upstream
 * of the relay needs it. Everything else is left alone (TC_ACT_UNSPEC).
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

/* One copy's destination. Addresses and ports in network byte order; IPv4 addresses in the first 4 bytes. */
struct bench_target {
	__u32 ifindex;       /* device whose egress the copy leaves by */
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

/* Current endpoints of the skb being rewritten (network byte order). */
struct ends {
	__u8 addrs[32]; /* src then dst: 4 + 4 (IPv4) or 16 + 16 (IPv6); IPv4 leaves bytes 8.. zero */
	__be16 ports[2];
};

/* State shared with the per-target callback. The fan-out runs under bpf_loop so that the verifier checks one
 * target's rewrite once, instead of every combination of skipped and served targets of an unrolled loop. */
struct fanout {
	struct __sk_buff *skb;
	struct ends cur;
	__u64 l4_flags;
	__u32 first, count, family, l4_off;
};

static long fan_out_one(__u32 i, void *data)
{
	struct fanout *f = data;
	struct __sk_buff *skb = f->skb;
	struct ends next = {};
	__u32 key = f->first + i;

	if (i >= f->count)
		return 1;
	if (key >= f->count)
		key -= f->count;
	struct bench_target *t = bpf_map_lookup_elem(&bench_targets, &key);
	if (!t || t->family != f->family)
		return 0;
	const __u32 csum_udp = f->l4_off + __builtin_offsetof(struct udphdr, check);

	/* L2. BPF_F_RECOMPUTE_CSUM keeps a CHECKSUM_COMPLETE skb->csum right (the MAC header is part of it once the
	 * clone is pushed out). */
	__u8 macs[12];
	__builtin_memcpy(&macs[0], t->mac_dst, 6);
	__builtin_memcpy(&macs[6], t->mac_src, 6);
	if (bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), BPF_F_RECOMPUTE_CSUM))
		return 1;

	/* L3 addresses: in the IPv4 header checksum and in the UDP pseudo header. */
	if (f->family == BENCH_AF_INET) {
		__builtin_memcpy(&next.addrs[0], t->src_ip, 4);
		__builtin_memcpy(&next.addrs[4], t->dst_ip, 4);
		__s64 diff = bpf_csum_diff((__be32 *)f->cur.addrs, 8, (__be32 *)next.addrs, 8, 0);
		if (diff < 0
		    || bpf_skb_store_bytes(skb, ETH_HLEN_ + __builtin_offsetof(struct iphdr, saddr), next.addrs, 8, 0)
		    || bpf_l3_csum_replace(skb, ETH_HLEN_ + __builtin_offsetof(struct iphdr, check), 0, diff, 0)
		    || bpf_l4_csum_replace(skb, csum_udp, 0, diff, BPF_F_PSEUDO_HDR | f->l4_flags))
			return 1;
	} else {
		__builtin_memcpy(&next.addrs[0], t->src_ip, 16);
		__builtin_memcpy(&next.addrs[16], t->dst_ip, 16);
		__s64 diff = bpf_csum_diff((__be32 *)f->cur.addrs, 32, (__be32 *)next.addrs, 32, 0);
		/* No header checksum absorbs the change: RECOMPUTE_CSUM moves skb->csum by diff and the pseudo-header
		 * update takes it back (see bpf-templates/include/fr_rewrite.h). */
		if (diff < 0
		    || bpf_skb_store_bytes(skb, ETH_HLEN_ + __builtin_offsetof(struct ipv6hdr, saddr), next.addrs, 32,
					   BPF_F_RECOMPUTE_CSUM)
		    || bpf_l4_csum_replace(skb, csum_udp, 0, diff, BPF_F_PSEUDO_HDR | f->l4_flags))
			return 1;
	}

	/* L4 ports: UDP data, compensated by the checksum field. */
	next.ports[0] = t->src_port;
	next.ports[1] = t->dst_port;
	__s64 pdiff = bpf_csum_diff((__be32 *)f->cur.ports, 4, (__be32 *)next.ports, 4, 0);
	if (pdiff < 0 || bpf_skb_store_bytes(skb, f->l4_off, next.ports, 4, 0)
	    || bpf_l4_csum_replace(skb, csum_udp, 0, pdiff, f->l4_flags))
		return 1;
	f->cur = next; /* the next target's rewrite starts from these bytes */

	bpf_clone_redirect(skb, t->ifindex, 0);
	return 0;
}

SEC("tc")
int bench_clone_floor(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct fanout f = { .skb = skb };
	__u32 zero = 0;
	struct udphdr *udp;

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_UNSPEC;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > data_end || ip->ihl < 5 || ip->protocol != IPPROTO_UDP)
			return TC_ACT_UNSPEC;
		if (ip->frag_off & bpf_htons(0x3fff)) /* MF or an offset: not a whole datagram */
			return TC_ACT_UNSPEC;
		f.l4_off = ETH_HLEN_ + ip->ihl * 4;
		udp = data + f.l4_off;
		if ((void *)(udp + 1) > data_end)
			return TC_ACT_UNSPEC;
		__builtin_memcpy(&f.cur.addrs[0], &ip->saddr, 4);
		__builtin_memcpy(&f.cur.addrs[4], &ip->daddr, 4);
		f.family = BENCH_AF_INET;
		f.l4_flags = BPF_F_MARK_MANGLED_0; /* IPv4: a UDP checksum of 0 (none) stays 0 */
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > data_end || ip6->nexthdr != IPPROTO_UDP)
			return TC_ACT_UNSPEC;
		f.l4_off = ETH_HLEN_ + IP6_HLEN;
		udp = data + f.l4_off;
		if ((void *)(udp + 1) > data_end)
			return TC_ACT_UNSPEC;
		__builtin_memcpy(&f.cur.addrs[0], &ip6->saddr, 16);
		__builtin_memcpy(&f.cur.addrs[16], &ip6->daddr, 16);
		f.family = BENCH_AF_INET6;
		f.l4_flags = BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE; /* IPv6: never 0 */
	} else {
		return TC_ACT_UNSPEC;
	}

	struct bench_config *cfg = bpf_map_lookup_elem(&bench_config, &zero);
	if (!cfg || cfg->count == 0 || udp->dest != bpf_htons(cfg->port))
		return TC_ACT_UNSPEC;
	f.cur.ports[0] = udp->source;
	f.cur.ports[1] = udp->dest;
	f.count = cfg->count < BENCH_MAX_TARGETS ? cfg->count : BENCH_MAX_TARGETS;
	if (cfg->rotate) {
		__u32 *r = bpf_map_lookup_elem(&bench_rotation, &zero);
		if (r)
			f.first = (*r)++ % f.count;
	}

	bpf_loop(f.count, fan_out_one, &f, 0);
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
