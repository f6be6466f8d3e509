// SPDX-License-Identifier: GPL-2.0
/*
 * Test helper for StackedDevicesTests, not part of the relay: tags every IPv4 frame leaving the device with VLAN 10, in
 * the skb's metadata, as a VLAN device over a veth does. The kernel this suite runs on has no 802.1Q devices
 * (CONFIG_VLAN_8021Q is not set), so this is how a tagged frame reaches the relay host's devices there.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("tc")
int vlan_tag(struct __sk_buff *skb)
{
	if (skb->protocol == bpf_htons(ETH_P_IP))
		bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 10);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
