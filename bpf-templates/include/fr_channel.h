/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Channels: who may feed one, and who may receive its copies.
 *
 * fr_channels is a preallocated hash. When userspace replaces a channel's value, the kernel links a fresh element and
 * returns the old one to the free list, where the very next update (of any channel) may take it and overwrite it while
 * upstream ingress on another CPU is still reading its slot list. A reader can therefore find another channel's slots,
 * or a half-written list, under the key it looked up. No copy may go to a subscriber of another channel because of
 * that: each slot carries its own channel (fr_subscriber.channel, written by userspace when it activates the slot), and
 * both the clone loop and subscriber egress check it against the packet's channel. What a racing reader can still get
 * wrong is confined to the channel itself: a subscriber that joined or left in the same instant may miss or get that
 * one packet.
 */
#ifndef FR_CHANNEL_H
#define FR_CHANNEL_H

#include "fr_parse.h"

/*
 * A channel with an upstream set only accepts that sender, so that anyone who can reach the relay port cannot inject
 * data into every subscriber's connection. Family 0 accepts any source. Port 0 is "no upstream yet": nothing fans out.
 * It must not be compared like an address: TC ingress runs before the stack's martian filter, so a packet can claim to
 * come from 0.0.0.0:0 (or [::]:0) and would match an unset endpoint written as zeros.
 */
static __always_inline int fr_upstream_allowed(const struct fr_channel *ch, const struct fr_packet *pkt)
{
	if (ch->upstream.family == 0)
		return 1;
	if (ch->upstream.port == 0)
		return 0;
	return fr_endpoint_eq(&ch->upstream, &pkt->src);
}

/* The slot's subscriber was activated for this channel (ids compared, the key's padding is not). */
static __always_inline int fr_subscribed_to(const struct fr_subscriber *sub, const struct fr_channel_key *key)
{
	return sub->channel.id == key->id;
}

#endif /* FR_CHANNEL_H */
