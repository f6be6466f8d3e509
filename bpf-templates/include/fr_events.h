/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Registration events: one fr_event per packet the kernel sent (or numbered) for the userspace stack, so that
 * its ACK processing, loss detection and congestion control know about packets it never built; or, when userspace
 * only needs the numbering (FR_CONFIG_REGISTER_RUNS), one per break in it (see fr_registration_needed).
 *
 * Submitted with BPF_RB_NO_WAKEUP: a wakeup per event costs ~5 us of the forwarding CPU, and the consumer
 * drains the ring in batches on its own schedule anyway. A full ring is not an error the packet should pay
 * for: the copy still goes out, and events_lost tells userspace that its registration has a hole (it then
 * treats the missing numbers as sent-and-unknown).
 */
#ifndef FR_EVENTS_H
#define FR_EVENTS_H

#include "fr_stats.h"

static __always_inline struct fr_event *fr_event_reserve(struct fr_stats *st)
{
	struct fr_event *e = bpf_ringbuf_reserve(&fr_events, sizeof(*e), 0);

	if (!e) {
		FR_COUNT(st, events_lost);
		return e;
	}
	/* Ring memory is recycled: clear the padding and the fields a layout does not set. */
	__builtin_memset(e, 0, sizeof(*e));
	e->timestamp_ns = bpf_ktime_get_ns();
	return e;
}

static __always_inline void fr_event_submit(struct fr_event *e)
{
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/*
 * Run registration (FR_CONFIG_REGISTER_RUNS in fr_config.flags). A subscriber's numbers normally follow the upstream's
 * one for one: copy r + k carries upstream packet u + k. Only where that stops (first copy, a packet dropped for the
 * budget, one the relay's own stack sent in between) does userspace need an event; the rest is implied. With 64
 * subscribers that turns 64 events per upstream packet into none, in the kernel and in the consumer.
 *
 * fr_last_numbered[slot] holds the last number taken and the upstream number it carried, packed, with bit 63 set
 * (0 = nothing to follow). The exchange is atomic: when two CPUs number for the same slot at once, a copy skips its
 * event only if it displaced exactly its predecessor (number - 1 carrying upstream - 1), so a race can add an event
 * but never lose one. Numbers are compared in their low 31 bits, upstream numbers in their low 32: enough to tell
 * neighbours apart, and every packet numbered rewrites the entry, so no stale value can match.
 */
#define FR_RUN_VALID (1ULL << 63)

static __always_inline __u64 fr_run_pack(__u64 pn, __u64 upstream_pn)
{
	return FR_RUN_VALID | ((pn & 0x7fffffffULL) << 32) | (upstream_pn & 0xffffffffULL);
}

/* A forwarded copy numbered pn carrying upstream_pn: does userspace need its event? */
static __always_inline int fr_registration_needed(__u32 slot, __u64 pn, __u64 upstream_pn)
{
	__u64 *last;

	if (!(fr_config_flags_of(fr_config_get()) & FR_CONFIG_REGISTER_RUNS))
		return 1;
	last = bpf_map_lookup_elem(&fr_last_numbered, &slot);
	if (!last)
		return 1;
	return __sync_lock_test_and_set(last, fr_run_pack(pn, upstream_pn)) != fr_run_pack(pn - 1, upstream_pn - 1);
}

/* A packet of the relay's own stack took a number: the next forwarded copy cannot follow it and must be registered. */
static __always_inline void fr_registration_break(__u32 slot)
{
	__u64 *last = bpf_map_lookup_elem(&fr_last_numbered, &slot);

	if (last)
		__sync_lock_test_and_set(last, 0);
}

#endif /* FR_EVENTS_H */
