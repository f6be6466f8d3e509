/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Priority drop: when a subscriber's link cannot take everything, shed the least urgent data first instead of
 * letting the queue in front of the subscriber delay the urgent data too.
 *
 * Userspace refills fr_budget.bytes (e.g. from its congestion controller's rate every few ms); the kernel
 * debits every forwarded copy. A packet of urgency u > 0 needs u * reserve_per_level bytes of budget left over
 * after itself, so as the budget shrinks the least urgent levels stop first. Urgency 0 is never dropped here:
 * it is what the budget protects, and it may drive the budget negative so the other levels back off.
 *
 * The check and the debit are two steps, so concurrent CPUs may overdraw by a few packets; the next refill
 * absorbs that, and a compare-and-swap loop on every packet is not worth it.
 */
#ifndef FR_BUDGET_H
#define FR_BUDGET_H

#include "fr_common.h"

#if FR_PRIORITY_DROP

static __always_inline struct fr_budget *fr_budget_get(__u32 slot)
{
	return bpf_map_lookup_elem(&fr_budgets, &slot);
}

/* 1 when a copy of len payload bytes and the given urgency may be forwarded. Debits nothing. */
static __always_inline int fr_budget_admit(const struct fr_budget *b, __u32 urgency, __u32 len)
{
	__s64 needed;

	if (!b || !b->enabled || urgency == 0)
		return 1;
	if (urgency >= b->drop_from_level)
		return 0;
	needed = (__s64)len + (__s64)urgency * b->reserve_per_level;
	return *(volatile const __s64 *)&b->bytes >= needed;
}

/* Only once the copy is sure to leave, so that dropped copies cost nothing. */
static __always_inline void fr_budget_debit(struct fr_budget *b, __u32 len)
{
	if (b && b->enabled)
		__sync_fetch_and_add(&b->bytes, -(__s64)len);
}

#else /* !FR_PRIORITY_DROP */

static __always_inline struct fr_budget *fr_budget_get(__u32 slot)
{
	return (struct fr_budget *)0;
}

static __always_inline int fr_budget_admit(const struct fr_budget *b, __u32 urgency, __u32 len)
{
	return 1;
}

static __always_inline void fr_budget_debit(struct fr_budget *b, __u32 len)
{
}

#endif /* FR_PRIORITY_DROP */

#endif /* FR_BUDGET_H */
