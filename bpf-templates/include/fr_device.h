/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which device a packet is on, for relay hosts whose devices are stacked (a bridge over its ports, a VLAN over its lower
 * device, a bond over its slaves). One packet passes several of our hooks there: a frame for a VLAN device is seen at
 * the lower device's ingress and again at the VLAN device's; a copy leaving through a bridge passes the bridge's egress
 * and then its port's. Each program must act at exactly one of them, or a packet fans out twice and a copy is numbered
 * twice. The host (runtime/Relay/AttachPlan.cs) attaches nothing to bridge and bond ports; these checks cover the
 * devices it does attach to:
 *  - ingress ignores a frame that still carries a VLAN tag: it belongs to the VLAN device above, whose own ingress sees
 *    it untagged (or, with no such device, the stack drops it);
 *  - egress acts on a subscriber's packets only on the device that subscriber is bound to (fr_subscriber.ifindex, the
 *    route's output device); on a lower device the copy has already been rewritten and numbered above;
 *  - upstream ingress clones only to devices where the host attached this relay's egress program (fr_egress_devices):
 *    a clone that meets no egress program leaves as it is, with the publisher's addresses and numbers.
 */
#ifndef FR_DEVICE_H
#define FR_DEVICE_H

#include "fr_common.h"

/* The tag is in skb metadata by the time TC ingress runs: the stack untags in-band tags before the hook. */
static __always_inline int fr_vlan_tagged(const struct __sk_buff *skb)
{
	return skb->vlan_present != 0;
}

/* A subscriber's packet is this program's on the subscriber's own device only. */
static __always_inline int fr_on_subscriber_device(const struct __sk_buff *skb, const struct fr_subscriber *sub)
{
	return skb->ifindex == sub->ifindex;
}

/* A global function, verified once on its own: inlined into the fan-out loop, its lookup would be walked once per
 * subscriber (see the verification cost note in README.md). */
__noinline int fr_egress_attached(__u32 ifindex)
{
	return bpf_map_lookup_elem(&fr_egress_devices, &ifindex) != (void *)0;
}

#endif /* FR_DEVICE_H */
