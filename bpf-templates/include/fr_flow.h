/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stream data flow control for descriptors with a [StreamOffset] field (FR_HAS_STREAM_OFFSET).
 *
 * Each (subscriber slot, upstream stream) mapping in fr_streams says where the upstream stream's bytes land on the
 * subscriber's stream (offset_delta: the relay writes its own stream header there, which may be longer or shorter than
 * the upstream's), from which upstream offset on the kernel forwards (forward_from: bytes before it userspace sends
 * itself, e.g. what it had already sent from its cache when the subscriber joined) and how far the subscriber's flow
 * control lets anyone send on that stream (limit: its MAX_STREAM_DATA). Per slot, the connection's credit (its share of
 * MAX_DATA) is a pair of counters: fr_credit_limit, raised only by userspace, and fr_credit_used, advanced only by the
 * kernel with a compare-and-swap so that concurrent CPUs can never forward past the limit. Two counters rather than one
 * decremented balance because userspace cannot add to a map value atomically: a lookup-and-update that refills a balance
 * would overwrite whatever the kernel took in between.
 *
 * A mapped copy that cannot be forwarded (limit, credit, budget, a failed rewrite, or data straddling forward_from) is
 * reported in a not-forwarded event: the relay holds the stream's bytes and must send that range itself, or the stream
 * would have a hole. Data wholly before forward_from is dropped silently: userspace already owns it.
 */
#ifndef FR_FLOW_H
#define FR_FLOW_H

#include "fr_events.h"

#if FR_HAS_STREAM_OFFSET

#if !FR_STREAM_TRANSLATE || !FR_HAS_STREAM_ID
#error "a [StreamOffset] needs a translated [StreamId]: the offset is placed by the (slot, stream) mapping"
#endif

/* A lost compare-and-swap means another CPU forwarded for the same subscriber at that instant; a few retries settle it,
 * and a copy that still loses is reported like any refused one (userspace sends it) rather than spinning. */
#define FR_CREDIT_RETRIES 4

/* The stream data of one fast-path packet as the subscriber will see it. */
struct fr_flow {
	__u64 upstream_offset;
	__u64 offset;       /* downstream */
	__u32 data_len;     /* payload after FR_PAYLOAD_OFFSET */
	__u8 fin;
	__u8 urgency;
};

/* The upstream packet number for a report (0 when the protocol has none). */
static __always_inline __u64 fr_flow_upstream_pn(const __u8 *h)
{
#if FR_HAS_PACKET_NUMBER
	return fr_read_packet_number(h);
#else
	return 0;
#endif
}

/* Where the packet's data lands on the subscriber's stream. 0 to go on; -1: before forward_from (userspace owns it,
 * drop silently); otherwise an FR_NOT_FORWARDED_* reason. */
static __always_inline int fr_flow_place(const struct fr_stream_value *sval, const __u8 *h, __u32 payload_len, struct fr_flow *f)
{
	__u64 end;

	f->upstream_offset = fr_read_stream_offset(h);
	f->data_len = payload_len - FR_PAYLOAD_OFFSET; /* fr_load_header guaranteed payload_len >= FR_HEADER_LEN >= this */
	f->fin = fr_read_fin(h);
#if FR_URGENCY_FROM_STREAM
	f->urgency = sval->urgency;
#else
	f->urgency = 0;
#endif
	f->offset = f->upstream_offset + (__u64)sval->offset_delta;
	if (f->upstream_offset < sval->forward_from) {
		/* Ending at or before forward_from: userspace sends these bytes (and a FIN there) itself. */
		if (f->upstream_offset + f->data_len <= sval->forward_from)
			return -1;
		return FR_NOT_FORWARDED_STRADDLES_FORWARD_FROM;
	}
	end = f->offset + f->data_len;
	/* A delta that would move the data below 0, or past what the offset field can carry (FR_STREAM_OFFSET_MAX: 2^62 - 1
	 * for QUIC's varint, RFC 9000 §4.5), is a mapping the kernel cannot honour. */
	if ((__s64)f->offset < 0 || end < f->offset || end > FR_STREAM_OFFSET_MAX || end > sval->limit)
		return FR_NOT_FORWARDED_STREAM_LIMIT;
	return 0;
}

/* Takes len bytes of the slot's connection credit; 0 when they do not fit (nothing taken). */
static __always_inline int fr_credit_take(__u32 slot, __u32 len)
{
	__u64 *limit = bpf_map_lookup_elem(&fr_credit_limit, &slot);
	__u64 *used = bpf_map_lookup_elem(&fr_credit_used, &slot);

	if (!limit || !used)
		return 0;
	for (int i = 0; i < FR_CREDIT_RETRIES; i++) {
		__u64 cur = *(volatile __u64 *)used;
		__u64 next = cur + len;

		if (next < cur || next > *(volatile __u64 *)limit)
			return 0;
		if (__sync_val_compare_and_swap(used, cur, next) == cur)
			return 1;
	}
	return 0;
}

/* Gives back credit taken for a copy that did not leave after all. */
static __always_inline void fr_credit_return(__u32 slot, __u32 len)
{
	__u64 *used = bpf_map_lookup_elem(&fr_credit_used, &slot);

	if (used)
		__sync_fetch_and_add(used, -(__s64)len);
}

/* Tells userspace to send this range itself. */
static __always_inline void fr_report_not_forwarded(struct fr_stats *st, __u32 slot, const struct fr_flow *f, __u64 sid,
						     __u64 upstream_sid, __u64 upstream_pn, __u32 payload_len, __u8 reason)
{
	struct fr_event *e;

	FR_COUNT(st, egress_not_forwarded);
	e = fr_event_reserve(st);
	if (!e)
		return;
#if FR_HAS_PACKET_NUMBER
	e->upstream_packet_number = upstream_pn; /* no number was given: packet_number stays 0 */
#endif
	e->stream_id = sid;
	e->upstream_stream_id = upstream_sid;
	e->stream_offset = f->offset;
	e->slot = slot;
	e->length = payload_len;
	e->data_length = f->data_len;
	e->origin = FR_ORIGIN_NOT_FORWARDED;
	e->urgency = f->urgency;
	e->fin = f->fin;
	e->reason = reason;
	fr_event_submit(e);
}

#endif /* FR_HAS_STREAM_OFFSET */
#endif /* FR_FLOW_H */
