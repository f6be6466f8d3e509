/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pieces every FastRelay TC program shares: kernel UAPI headers, the relay port, and the skb->mark tag that
 * carries a clone's subscriber slot from upstream ingress to subscriber egress.
 *
 * Included after the generated <proto>.fastrelay.h, which already pulls in linux/bpf.h, bpf_helpers.h and
 * bpf_endian.h and defines every FR_* symbol used below.
 */
#ifndef FR_COMMON_H
#define FR_COMMON_H

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>

#ifndef FR_PROTOCOL_NAME
#error "include the generated <proto>.fastrelay.h (FR_PROTOCOL_HEADER) before the FastRelay template headers"
#endif

#if FR_MAX_SUBSCRIBERS < 1 || FR_MAX_SUBSCRIBERS > 256
#error "FR_MAX_SUBSCRIBERS must be 1..256 (the slot must fit FR_MARK_SLOT_MASK and the verifier budget)"
#endif

/* FR_MARK_SLOT_MASK must be able to hold slot + 1 for the largest slot, or clones of the last slots would
 * carry a tag that egress decodes as another subscriber. */
_Static_assert(FR_MAX_SUBSCRIBERS <= FR_MARK_SLOT_MASK, "FR_MARK_SLOT_MASK too narrow for FR_MAX_SUBSCRIBERS");
_Static_assert((FR_MARK_MAGIC & FR_MARK_SLOT_MASK) == 0, "FR_MARK_MAGIC overlaps the slot bits");
_Static_assert((FR_MARK_SLOT_MASK & (FR_MARK_SLOT_MASK + 1)) == 0, "FR_MARK_SLOT_MASK must be the low bits of the mark");

#define FR_AF_INET  4
#define FR_AF_INET6 6

/* Relay-wide settings; NULL only if the map is broken, which every reader treats as "all defaults". A program that
 * needs several settings looks the entry up once. */
static __always_inline const struct fr_config *fr_config_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&fr_config, &zero);
}

/* Userspace may move the relay to another port at run time without reloading the object. */
static __always_inline __u16 fr_relay_port_of(const struct fr_config *cfg)
{
	if (cfg && cfg->udp_port)
		return cfg->udp_port;
	return FR_UDP_PORT;
}

static __always_inline __u16 fr_relay_port(void)
{
	return fr_relay_port_of(fr_config_get());
}

static __always_inline __u32 fr_config_flags_of(const struct fr_config *cfg)
{
	return cfg ? cfg->flags : 0;
}

/* The tag of this instance's clones. Two relays on one host (two objects, the same protocol or not) attach their egress
 * programs to the same devices, and each must recognise only its own clones: with one constant for everyone, the
 * first egress program in the chain took the other relay's clones for its own slots. Userspace writes a tag unique to
 * the instance into fr_config.clone_mark; FR_MARK_MAGIC is only the default for a relay that wrote none. */
static __always_inline __u32 fr_clone_magic_of(const struct fr_config *cfg)
{
	__u32 magic = cfg ? cfg->clone_mark & FR_MARK_MAGIC_MASK : 0;

	return magic ? magic : FR_MARK_MAGIC;
}

/* Slot + 1 so that a mark of exactly the magic (slot bits zero) never decodes as slot 0. */
static __always_inline __u32 fr_mark_for_slot(__u32 magic, __u32 slot)
{
	return magic | ((slot + 1) & FR_MARK_SLOT_MASK);
}

/* Returns 1 and the slot when the mark is one of this instance's clone tags. Any other mark (firewall, policy
 * routing, another relay) is somebody else's and must be left alone. */
static __always_inline int fr_mark_to_slot(__u32 magic, __u32 mark, __u32 *slot)
{
	__u32 tag;

	if ((mark & FR_MARK_MAGIC_MASK) != magic)
		return 0;
	tag = mark & FR_MARK_SLOT_MASK;
	if (tag == 0 || tag > FR_MAX_SUBSCRIBERS)
		return 0;
	*slot = tag - 1;
	return 1;
}

#endif /* FR_COMMON_H */
