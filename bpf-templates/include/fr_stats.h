/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Counters. Global ones live in a per-CPU array; per-subscriber ones in a shared array indexed by slot.
 *
 * Every increment is an atomic add even in the per-CPU map: the egress program runs nested inside the
 * upstream ingress program on the same CPU (bpf_clone_redirect transmits synchronously), and on PREEMPT_RT
 * kernels TC programs can be preempted, so a plain load/add/store could lose counts. An atomic add costs a
 * few cycles more and keeps the numbers userspace reconciles against exact.
 */
#ifndef FR_STATS_H
#define FR_STATS_H

#include "fr_common.h"

static __always_inline struct fr_stats *fr_stats_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&fr_stats, &zero);
}

static __always_inline struct fr_sub_stats *fr_sub_stats_get(__u32 slot)
{
	return bpf_map_lookup_elem(&fr_sub_stats, &slot);
}

/* The lookup of a single-entry array cannot fail once the map exists, but the verifier does not know that,
 * so every use is guarded; the macros keep that noise out of the programs. */
#define FR_COUNT(st, field)                                     \
	do {                                                    \
		if (st)                                         \
			__sync_fetch_and_add(&(st)->field, 1);  \
	} while (0)

#define FR_COUNT_ADD(st, field, n)                              \
	do {                                                    \
		if (st)                                         \
			__sync_fetch_and_add(&(st)->field, (n)); \
	} while (0)

#endif /* FR_STATS_H */
