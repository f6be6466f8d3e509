/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Registration events: one fr_event per packet the kernel sent (or numbered) for the userspace stack, so that
 * its ACK processing, loss detection and congestion control know about packets it never built.
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

#endif /* FR_EVENTS_H */
