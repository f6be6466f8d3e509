// SPDX-License-Identifier: GPL-2.0
/*
 * Lab loss injection: a tc ingress filter that drops UDP packets with a fixed probability.
 *
 * The lab has no netem, so `fastrelay lab` (LabNetwork.SetLossAsync) compiles this file with clang at run time and
 * attaches it with `tc filter add dev X ingress bpf da obj loss.o sec tc` on a subscriber's interface. Parameters
 * arrive as -D defines, one object per setting, so tc loads it without any map update:
 *
 *   LOSS_THRESHOLD  drop when a uniform 32-bit random value is below this (percent / 100 * 2^32; 2^32 drops all)
 *   LOSS_SEED       when defined, the draw for the n-th UDP packet is splitmix64(LOSS_SEED + n): the same
 *                   packets are dropped on every run (given the same order of arrival). Otherwise
 *                   bpf_get_prandom_u32() is used.
 *
 * Only UDP over IPv4/IPv6 is ever dropped: ARP, neighbour discovery (ICMPv6) and everything else passes, so the lab
 * keeps resolving addresses while a link is lossy. IPv4 fragments after the first carry no UDP header and pass.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef LOSS_THRESHOLD
#define LOSS_THRESHOLD 0ULL
#endif

/* Counters, readable with bpftool (map name "loss_bss"): UDP packets seen and dropped. */
__u64 udp_seen = 0;
__u64 udp_dropped = 0;

static __always_inline __u64 splitmix64(__u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static __always_inline int is_udp(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > data_end)
			return 0;
		/* a non-first fragment has no UDP header: let it through */
		return ip->protocol == IPPROTO_UDP && (ip->frag_off & bpf_htons(0x1fff)) == 0;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > data_end)
			return 0;
		return ip6->nexthdr == IPPROTO_UDP;
	}
	return 0; /* ARP and anything else */
}

SEC("tc")
int lab_loss(struct __sk_buff *skb)
{
	if (!is_udp(skb))
		return TC_ACT_UNSPEC; /* not ours to judge: continue as if this filter were absent */

	__u64 n = __sync_fetch_and_add(&udp_seen, 1);
#ifdef LOSS_SEED
	__u64 draw = splitmix64((__u64)LOSS_SEED + n) >> 32;
#else
	__u64 draw = bpf_get_prandom_u32();
	(void)n;
#endif
	if (draw < (__u64)LOSS_THRESHOLD) {
		__sync_fetch_and_add(&udp_dropped, 1);
		return TC_ACT_SHOT;
	}
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
