// SPDX-License-Identifier: GPL-2.0
/*
 * FastRelay TC programs. Protocol independent: everything about the protocol (field places, match rules,
 * struct layouts, maps) comes from the generated header named by FR_PROTOCOL_HEADER, whose symbols are
 * specified in docs/generated-header.md.
 *
 *   fr_upstream_ingress    ingress of the upstream-facing device: one clone per subscriber of the channel
 *   fr_subscriber_egress   egress of subscriber-facing devices: per-subscriber rewrite and numbering
 *   fr_subscriber_ingress  ingress of subscriber-facing devices: liveness and receive counters
 *
 * Verdicts: TC_ACT_UNSPEC means "not mine" (the next program and the stack see the packet as if we were not
 * there); TC_ACT_OK ends classification and lets the packet continue; TC_ACT_SHOT drops a copy we own.
 */
#ifndef FR_PROTOCOL_HEADER
#error "compile with -DFR_PROTOCOL_HEADER='\"<proto>.fastrelay.h\"'"
#endif
#include FR_PROTOCOL_HEADER

#include "fr_common.h"
#include "fr_stats.h"
#include "fr_parse.h"
#include "fr_checksum.h"
#include "fr_rewrite.h"
#include "fr_family.h"
#include "fr_device.h"
#include "fr_budget.h"
#include "fr_events.h"
#include "fr_cache.h"
#include "fr_channel.h"
#include "fr_flow.h"
#ifndef FR_ENCRYPTED_SUBSCRIBERS
#define FR_ENCRYPTED_SUBSCRIBERS 0
#endif
#if FR_ENCRYPTED_SUBSCRIBERS
#include "fr_quic_relay.h"
#endif

char LICENSE[] SEC("license") = "GPL";

/* ------------------------------------------------------------------------------------------------------ */
/* Upstream ingress                                                                                        */
/* ------------------------------------------------------------------------------------------------------ */

SEC("tc")
int fr_upstream_ingress(struct __sk_buff *skb)
{
	struct fr_stats *st = fr_stats_get();
	__u8 hdr[FR_HEADER_BUF_LEN] = {};
	struct fr_channel_key key;
	struct fr_channel *ch;
	struct fr_packet pkt;
	__u32 count, start, mark, magic, i;
	int fanned_out = 0, cross_family = 0;
	int rc;

	/* The VLAN device above this one sees the frame again, untagged: fanning out here too would send every copy twice. */
	if (fr_vlan_tagged(skb))
		return TC_ACT_UNSPEC;

	rc = fr_parse_udp(skb, &pkt);
	if (rc == FR_PARSE_TRUNCATED) {
		FR_COUNT(st, upstream_truncated);
		return TC_ACT_UNSPEC;
	}
	if (rc != FR_PARSE_OK || pkt.dst.port != bpf_htons(fr_relay_port()))
		return TC_ACT_UNSPEC;
	FR_COUNT(st, upstream_seen);

	if (fr_load_header(skb, &pkt, hdr)) {
		FR_COUNT(st, upstream_truncated);
		return TC_ACT_UNSPEC;
	}
	/* A GRO-merged skb (UDP_GRO on the relay socket) holds several datagrams behind one header: rewriting
	 * that header would renumber only the first. Let the stack have it. */
	if (skb->gso_size || !fr_match_fast_path(hdr)) {
		FR_COUNT(st, upstream_not_matched);
		return TC_ACT_UNSPEC;
	}

	/* The channel is read from the header, or (FR_CHANNEL_LOOKUP) looked up by header values userspace assigned. */
	ch = fr_find_channel(hdr, &key) ? bpf_map_lookup_elem(&fr_channels, &key) : (struct fr_channel *)0;
	if (!ch) {
		FR_COUNT(st, upstream_no_channel);
		return TC_ACT_UNSPEC;
	}
	if (!fr_upstream_allowed(ch, &pkt)) {
		FR_COUNT(st, upstream_foreign_source);
		return TC_ACT_UNSPEC;
	}
	FR_COUNT(st, upstream_matched);

	count = ch->count;
	if (count > FR_MAX_SUBSCRIBERS)
		count = FR_MAX_SUBSCRIBERS;
	if (count == 0)
		return TC_ACT_UNSPEC;

	/* Clones leave one after the other; without rotation the subscriber in the last slot would always get
	 * the data last and see the fan-out time as extra latency. */
	start = __sync_fetch_and_add(&ch->rotation, 1) % count;
	mark = skb->mark;
	magic = fr_clone_magic_of(fr_config_get());

	for (i = 0; i < FR_MAX_SUBSCRIBERS; i++) {
		struct fr_subscriber *sub;
		__u32 idx, slot;

		if (i >= count)
			break;
		idx = start + i;
		if (idx >= count)
			idx -= count;
		/* Always true after the wrap, but the verifier cannot derive it from a modulo. */
		if (idx >= FR_MAX_SUBSCRIBERS)
			break;

		slot = ch->slots[idx];
		sub = bpf_map_lookup_elem(&fr_subscribers, &slot);
		if (!sub)
			continue; /* slot out of range: userspace wrote garbage, skip it rather than abort the rest */
		if (!sub->active) {
			struct fr_sub_stats *ss = fr_sub_stats_get(slot);

			FR_COUNT(ss, dropped_inactive);
			continue;
		}
		/* A slot of another channel: the entry was reused under us (fr_channel.h). */
		if (!fr_subscribed_to(sub, &key)) {
			FR_COUNT(st, egress_wrong_channel);
			continue;
		}
		/* A clone that meets no egress program of this relay leaves as it is, with the publisher's addresses. Userspace
		 * serves that subscriber from the original, as it serves one of the other family: the same flag keeps the
		 * original (one more flag live across this loop took the verifier past its budget at 256 subscribers). */
		if (!fr_egress_attached(sub->ifindex)) {
			FR_COUNT(st, clone_no_egress_program);
			cross_family = 1;
			continue;
		}
		/* The other family: egress translates the copy (fr_family.h) when userspace switched that on and the copy
		 * fits the subscriber's device; otherwise no clone, and the original goes up for userspace to serve. */
		if (sub->remote.family != pkt.family &&
		    !fr_family_clone_allowed(skb, sub->local.family, sub->remote.family, sub->ifindex,
					     fr_translated_l3_len(&pkt, sub->remote.family))) {
			cross_family = 1;
			continue;
		}

		/* The mark is the only per-clone state that survives into the egress program. */
		skb->mark = fr_mark_for_slot(magic, slot);
		/* The egress program runs inside this call. A positive result (NET_XMIT_DROP/CN) is its verdict or
		 * the qdisc's, already counted there; only a negative one means no clone left this program. */
		if (bpf_clone_redirect(skb, sub->ifindex, 0) < 0) {
			FR_COUNT(st, clone_errors);
			continue;
		}
		FR_COUNT(st, clones);
		fanned_out = 1;
	}

	skb->mark = mark;
	if (!fanned_out)
		return TC_ACT_UNSPEC;
#if FR_KERNEL_CACHE && FR_HAS_PACKET_NUMBER
	/* Kept here, and userspace has said it needs nothing else from the originals: it need not receive this one (unless a
	 * subscriber of the other family got no copy: userspace serves that one from the original). */
	/* fr_config is looked up again rather than kept from the port check: anything of it held live across the fan-out
	 * loop multiplies the states the verifier walks there past its budget (measured: over a million instructions). The
	 * array lookup is a few inlined instructions. */
	if (!cross_family && (fr_config_flags_of(fr_config_get()) & FR_CONFIG_CONSUME_CACHED)) {
		__u64 now = bpf_ktime_get_ns();

		if (fr_cache_store(skb, &pkt, hdr, ch, now)) {
			__sync_fetch_and_add(&ch->upstream_packets, 1);
			*(volatile __u64 *)&ch->last_upstream_ns = now;
			return TC_ACT_SHOT;
		}
	}
#else
	/* Only the kernel cache asks whether a subscriber was skipped for its family; without one the flag is unused. */
	(void)cross_family;
#endif
	/* The original goes up to the relay's own stack (ACKs, cache) exactly as it arrived. */
	return TC_ACT_OK;
}

#if FR_ENCRYPTED_SUBSCRIBERS
/* ------------------------------------------------------------------------------------------------------ */
/* Sealing a copy for an encrypted subscriber slot (fr_quic_relay.h)                                       */
/* ------------------------------------------------------------------------------------------------------ */
#if !FR_HAS_PACKET_NUMBER || !FR_PN_TRANSLATE || !FR_HAS_STREAM_OFFSET
#error "FR_ENCRYPTED_SUBSCRIBERS needs a translated packet number and stream offsets (a QUIC STREAM layout)"
#endif

/* What fr_subscriber_egress hands to fr_subscriber_egress_seal through the tail call: the copy's registration as it will
 * be sent when sealing succeeds. Per CPU: the tail call runs at once on the same CPU, with bottom halves off. */
struct fr_enc_pending {
	struct fr_event event;
	__u32 translated;
	__u32 phase; /* the key phase taken with the number (bit 63 of fr_next_pn, fr_quic_relay.h) */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fr_enc_pending);
} fr_enc_pending SEC(".maps");

/*
 * The second half of an encrypted slot's copy, reached only by tail call from fr_subscriber_egress once the copy is
 * rewritten, grown for the tag and numbered. A tail call, not a function call: the seal's working frames (~384 bytes of
 * stack) do not fit under the egress program's own 336 in one 512-byte stack, and the verifier checks the seal once here,
 * not on every path of the egress program. Sealed: the copy leaves and is registered. Not sealed (no keys, a crypto
 * error): dropped, credit returned and reported not forwarded; its number is a gap the subscriber never sees (QUIC
 * allows gaps), and no byte of it leaves in clear text.
 */
SEC("tc")
int fr_subscriber_egress_seal(struct __sk_buff *skb)
{
	struct fr_stats *st = fr_stats_get();
	struct fr_enc_pending *p;
	struct fr_sub_stats *ss;
	struct fr_event *e;
	__u32 zero = 0, slot;

	p = bpf_map_lookup_elem(&fr_enc_pending, &zero);
	if (!p)
		return TC_ACT_SHOT;
	slot = p->event.slot;
	ss = fr_sub_stats_get(slot);
	if (fr_enc_seal(skb, slot, p->event.packet_number, p->phase)) {
		fr_credit_return(slot, p->event.data_length);
		FR_COUNT(st, egress_not_forwarded);
		e = fr_event_reserve(st);
		if (e) {
			__u64 ts = e->timestamp_ns;

			__builtin_memcpy(e, &p->event, sizeof(*e));
			e->timestamp_ns = ts;
			e->packet_number = 0; /* as for every copy not sent */
			e->length -= fr_enc_growth(slot);
			e->origin = FR_ORIGIN_NOT_FORWARDED;
			e->reason = FR_NOT_FORWARDED_REWRITE_FAILED;
			fr_event_submit(e);
		}
		return TC_ACT_SHOT;
	}
	FR_COUNT(st, egress_rewritten);
	if (p->translated)
		FR_COUNT(st, egress_family_translated);
	FR_COUNT(ss, forwarded_packets);
	FR_COUNT_ADD(ss, forwarded_bytes, p->event.length);
	e = fr_event_reserve(st);
	if (e) {
		__u64 ts = e->timestamp_ns;

		__builtin_memcpy(e, &p->event, sizeof(*e));
		e->timestamp_ns = ts;
		fr_event_submit(e);
	}
	return TC_ACT_OK;
}

/* Entry 0: fr_subscriber_egress_seal, filled in by libbpf when the object loads (nothing for userspace to write). The key
 * is given by size, not BTF type: the kernel takes no BTF for a program array (libbpf would warn and retry without). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__array(values, int(struct __sk_buff *));
} fr_enc_progs SEC(".maps") = {
	.values = { [0] = (void *)&fr_subscriber_egress_seal },
};

/* Hands a numbered, rewritten copy for an encrypted slot to fr_subscriber_egress_seal. Returns only if the tail call
 * could not be made; the copy must then be dropped (it is grown for a tag it does not have). */
static __always_inline void fr_enc_tail_seal(struct __sk_buff *skb, __u32 slot, __u64 pn, __u32 phase, __u64 upstream_pn,
					     __u64 sid, __u64 upstream_sid, const struct fr_flow *flow, __u32 length,
					     __u8 urgency, int translated)
{
	struct fr_enc_pending *p;
	__u32 zero = 0;

	p = bpf_map_lookup_elem(&fr_enc_pending, &zero);
	if (!p)
		return;
	__builtin_memset(p, 0, sizeof(*p));
	p->event.packet_number = pn;
	p->event.upstream_packet_number = upstream_pn;
	p->event.stream_id = sid;
	p->event.upstream_stream_id = upstream_sid;
	p->event.stream_offset = flow->offset;
	p->event.data_length = flow->data_len;
	p->event.fin = flow->fin;
	p->event.slot = slot;
	p->event.length = length;
	p->event.origin = FR_ORIGIN_FORWARDED;
	p->event.urgency = urgency;
	p->translated = translated;
	p->phase = phase;
	bpf_tail_call(skb, &fr_enc_progs, 0);
}
#endif

/* ------------------------------------------------------------------------------------------------------ */
/* Subscriber egress                                                                                       */
/* ------------------------------------------------------------------------------------------------------ */

/* The kernel is the packet-number authority of every subscriber connection: forwarded copies and the
 * userspace stack's own packets take their numbers from the same counter, so the subscriber sees one gapless
 * sequence. Callers only take a number once the packet is certain to leave. */
static __always_inline __attribute__((unused)) __u64 fr_take_packet_number(__u64 *next_pn)
{
	return __sync_fetch_and_add(next_pn, 1);
}

/* A clone made by fr_upstream_ingress for the subscriber in slot. It still carries the upstream's addressing,
 * so every path that cannot finish the rewrite drops it: it must never leave as it is. A packet whose mark only looks
 * like our tag (another program's mark) is not a clone unless it is also what upstream ingress clones: UDP to the relay
 * port that satisfies fr_match_fast_path. Anything else is left exactly as it is, mark included. */
static __always_inline int fr_egress_forwarded(struct __sk_buff *skb, __u32 slot, __u16 relay_port, __u32 config_flags)
{
	struct fr_stats *st = fr_stats_get();
	struct fr_sub_stats *ss = fr_sub_stats_get(slot);
	__u8 old_h[FR_HEADER_BUF_LEN] = {};
	__u8 new_h[FR_HEADER_BUF_LEN];
	struct fr_channel_key channel;
	struct fr_subscriber *sub;
	struct fr_budget *budget;
	struct fr_packet pkt;
	struct fr_event *e;
	__u64 *next_pn;
	__be16 ports[2];
	__u32 urgency;
	int translate, rc;
#if FR_HAS_PACKET_NUMBER
	__u64 pn, upstream_pn;
#endif
#if FR_HAS_STREAM_ID
	__u64 sid, upstream_sid;
#endif
#if FR_HAS_STREAM_OFFSET
	struct fr_flow flow;
	int placed;
#endif
#if FR_ENCRYPTED_SUBSCRIBERS
	int sealed = FR_ENC_CLEAR;
	__u32 phase = 0;
#endif

	if (fr_parse_udp(skb, &pkt) != FR_PARSE_OK || pkt.dst.port != bpf_htons(relay_port) ||
	    fr_load_header(skb, &pkt, old_h) || !fr_match_fast_path(old_h))
		return TC_ACT_UNSPEC;
	/* The tag has done its job; it must not reach qdiscs, policy routing or the next hop's rules. */
	skb->mark = 0;

	sub = bpf_map_lookup_elem(&fr_subscribers, &slot);
	next_pn = bpf_map_lookup_elem(&fr_next_pn, &slot);
	if (!sub || !next_pn || !sub->active) {
		FR_COUNT(st, egress_dropped_inactive);
		FR_COUNT(ss, dropped_inactive);
		return TC_ACT_SHOT;
	}
	/* Upstream ingress redirects a slot's clone to the slot's device; a tagged copy anywhere else was not made for this
	 * hook (fr_device.h) and is not rewritten here. */
	if (!fr_on_subscriber_device(skb, sub)) {
		FR_COUNT(st, egress_wrong_device);
		return TC_ACT_SHOT;
	}
	/* A copy for the other family is translated only when userspace switched that on (it was when upstream ingress
	 * cloned, unless the switch or the subscriber changed since). */
	translate = pkt.family != sub->remote.family;
	if (sub->local.family != sub->remote.family || (translate && !(config_flags & FR_CONFIG_TRANSLATE_FAMILY))) {
		FR_COUNT(st, egress_family_mismatch);
		return TC_ACT_SHOT;
	}
	/* The mark names a slot, not a channel: a copy of another channel's packet must not reach this subscriber,
	 * whichever way the tag came to name it (a reused channel entry, another program's mark). */
	if (!fr_find_channel(old_h, &channel) || !fr_subscribed_to(sub, &channel)) {
		FR_COUNT(st, egress_wrong_channel);
		return TC_ACT_SHOT;
	}

	/* Decide before numbering: a dropped copy must not consume a packet number, or the subscriber would
	 * see a gap and report a loss that never happened. */
	urgency = fr_read_urgency(old_h);
	budget = fr_budget_get(slot);
#if !FR_HAS_STREAM_OFFSET
	if (!fr_budget_admit(budget, urgency, pkt.payload_len)) {
		FR_COUNT(st, egress_dropped_budget);
		FR_COUNT(ss, dropped_budget);
		return TC_ACT_SHOT;
	}
#endif

#if FR_HAS_STREAM_ID
	upstream_sid = fr_read_stream_id(old_h);
	sid = upstream_sid;
#if FR_STREAM_TRANSLATE
	{
		struct fr_stream_value *sval;
		struct fr_stream_key skey;

		/* Hash keys are compared bytewise: the padding must be zero like userspace's. */
		__builtin_memset(&skey, 0, sizeof(skey));
		skey.slot = slot;
		skey.upstream_stream_id = upstream_sid;
		sval = bpf_map_lookup_elem(&fr_streams, &skey);

		/* The subscriber's connection has no stream for this data (not subscribed yet, or already reset):
		 * sending it on an unknown stream id would be a protocol violation at the receiver. */
		if (!sval) {
			FR_COUNT(st, egress_dropped_no_stream);
			FR_COUNT(ss, dropped_no_stream);
			return TC_ACT_SHOT;
		}
		sid = sval->stream_id;
#if FR_HAS_STREAM_OFFSET
		/* Stream data: placed on the subscriber's stream, and only within what its flow control and budget allow.
		 * Whatever the mapping covers but the kernel cannot send is reported, so userspace sends it instead. */
		placed = fr_flow_place(sval, old_h, pkt.payload_len, &flow);
		if (placed < 0) {
			FR_COUNT(st, egress_before_forward_from);
			return TC_ACT_SHOT;
		}
#if FR_URGENCY_FROM_STREAM
		urgency = flow.urgency;
#endif
		flow.urgency = (__u8)urgency;
		if (!placed && !fr_budget_admit(budget, urgency, pkt.payload_len)) {
			FR_COUNT(st, egress_dropped_budget);
			FR_COUNT(ss, dropped_budget);
			placed = FR_NOT_FORWARDED_BUDGET;
		}
		if (!placed && !fr_credit_take(slot, flow.data_len))
			placed = FR_NOT_FORWARDED_CONNECTION_CREDIT;
		if (placed) {
			fr_report_not_forwarded(st, slot, &flow, sid, upstream_sid, fr_flow_upstream_pn(old_h), pkt.payload_len,
						(__u8)placed);
			return TC_ACT_SHOT;
		}
#endif
	}
#endif
#endif

	/* Unshare and linearise everything we are going to write now, so that no write after the packet number
	 * is taken can fail for lack of memory and leave a hole in the sequence. A translated copy gets its new IP header
	 * first (it moves the offsets), a same-family one has its header rewritten in place. */
	rc = translate ? fr_translate_family(skb, &pkt, sub) : 0;
	if (rc == FR_FAMILY_TOO_BIG)
		FR_COUNT(st, egress_family_too_big);
	if (rc || bpf_skb_pull_data(skb, pkt.payload_off + FR_HEADER_LEN) || fr_rewrite_l2(skb, sub) ||
	    (!translate && fr_rewrite_l3(skb, &pkt, sub))
#if FR_ENCRYPTED_SUBSCRIBERS
	    /* An encrypted slot's copy grows by the AEAD tag here, before it takes a number (fr_quic_relay.h). */
	    || (sealed = fr_enc_make_room(skb, slot)) == FR_ENC_REFUSED
#endif
	    ) {
#if FR_HAS_STREAM_OFFSET
		fr_credit_return(slot, flow.data_len);
		fr_report_not_forwarded(st, slot, &flow, sid, upstream_sid, fr_flow_upstream_pn(old_h), pkt.payload_len,
					FR_NOT_FORWARDED_REWRITE_FAILED);
#endif
		return TC_ACT_SHOT;
	}

	/* From here on the copy leaves. */
#if FR_ENCRYPTED_SUBSCRIBERS
	fr_budget_debit(budget, pkt.payload_len + (sealed == FR_ENC_ROOM ? fr_enc_growth(slot) : 0));
#else
	fr_budget_debit(budget, pkt.payload_len);
#endif

	__builtin_memcpy(new_h, old_h, sizeof(new_h));
#if FR_HAS_CONNECTION_ID
	fr_write_connection_id(new_h, sub->cid);
#endif
#if FR_HAS_PACKET_NUMBER
	upstream_pn = fr_read_packet_number(old_h);
	pn = upstream_pn;
#if FR_PN_TRANSLATE
	pn = fr_take_packet_number(next_pn);
#if FR_ENCRYPTED_SUBSCRIBERS
	/* A sealed slot's phase comes with the number, in one atomic operation (fr_quic_relay.h); a clear-text slot's
	 * counter is a plain number, as before. */
	if (sealed == FR_ENC_ROOM) {
		phase = (__u32)(pn >> FR_ENC_PHASE_SHIFT);
		pn &= FR_ENC_NUMBER_MASK;
	}
#endif
	fr_write_packet_number(new_h, pn);
#endif
#endif
#if FR_HAS_STREAM_ID && FR_STREAM_TRANSLATE
	fr_write_stream_id(new_h, sid);
#endif
#if FR_HAS_STREAM_OFFSET
	fr_write_stream_offset(new_h, flow.offset);
#endif

	ports[0] = sub->local.port;
	ports[1] = sub->remote.port;
	/* The number is taken: a failure here (the skb was made writable above, so it should not happen) leaves a number
	 * that never reaches the subscriber, which it treats like a lost packet; stream data is reported so that the
	 * relay sends it itself. */
	if (fr_rewrite_l4(skb, &pkt, ports, old_h, new_h, FR_HEADER_LEN)) {
#if FR_HAS_STREAM_OFFSET
		fr_credit_return(slot, flow.data_len);
		fr_report_not_forwarded(st, slot, &flow, sid, upstream_sid, fr_flow_upstream_pn(old_h), pkt.payload_len,
					FR_NOT_FORWARDED_REWRITE_FAILED);
#endif
		return TC_ACT_SHOT;
	}
#if FR_ENCRYPTED_SUBSCRIBERS
	/* Grown for the tag: it leaves sealed with the subscriber's keys (the seal program counts and registers it, with the
	 * size the subscriber receives: payload and tag) or not at all, never in clear text. */
	if (sealed == FR_ENC_ROOM) {
		fr_enc_tail_seal(skb, slot, pn, phase, upstream_pn, sid, upstream_sid, &flow, pkt.payload_len + fr_enc_growth(slot),
				 (__u8)urgency, translate);
		fr_credit_return(slot, flow.data_len);
		fr_report_not_forwarded(st, slot, &flow, sid, upstream_sid, fr_flow_upstream_pn(old_h), pkt.payload_len,
					FR_NOT_FORWARDED_REWRITE_FAILED);
		return TC_ACT_SHOT;
	}
#endif

	FR_COUNT(st, egress_rewritten);
	if (translate)
		FR_COUNT(st, egress_family_translated);
	FR_COUNT(ss, forwarded_packets);
	FR_COUNT_ADD(ss, forwarded_bytes, pkt.payload_len);

#if FR_HAS_PACKET_NUMBER && !FR_HAS_STREAM_OFFSET
	/* Runs imply numbers only; stream data needs its stream, offset and length registered with every copy. */
	if (!fr_registration_needed(slot, pn, upstream_pn))
		return TC_ACT_OK;
#endif
	e = fr_event_reserve(st);
	if (e) {
#if FR_HAS_PACKET_NUMBER
		e->packet_number = pn;
		e->upstream_packet_number = upstream_pn;
#endif
#if FR_HAS_STREAM_ID
		e->stream_id = sid;
		e->upstream_stream_id = upstream_sid;
#endif
#if FR_HAS_STREAM_OFFSET
		e->stream_offset = flow.offset;
		e->data_length = flow.data_len;
		e->fin = flow.fin;
#endif
		e->slot = slot;
		e->length = pkt.payload_len;
		e->origin = FR_ORIGIN_FORWARDED;
		e->urgency = (__u8)urgency;
		fr_event_submit(e);
	}
	return TC_ACT_OK;
}

/* A packet the relay's own stack sends to an active subscriber (handshake replies, retransmissions, control).
 * It is numbered from the same counter as the forwarded copies. Anything that is not clearly such a packet
 * is left exactly as it is. */
static __always_inline int fr_egress_userspace(struct __sk_buff *skb, __u16 relay_port)
{
	__u8 old_h[FR_HEADER_BUF_LEN] = {};
	struct fr_subscriber *sub;
	struct fr_sub_stats *ss;
	struct fr_packet pkt;
	struct fr_stats *st;
	struct fr_event *e;
	__u64 *next_pn;
	__u32 *slot_p;
	__u32 slot;
#if FR_HAS_PACKET_NUMBER
	__u64 pn, upstream_pn;
#endif

	if (fr_parse_udp(skb, &pkt) != FR_PARSE_OK || pkt.src.port != bpf_htons(relay_port))
		return TC_ACT_UNSPEC;
	slot_p = bpf_map_lookup_elem(&fr_sub_by_endpoint, &pkt.dst);
	if (!slot_p)
		return TC_ACT_UNSPEC;
	slot = *slot_p;
	sub = bpf_map_lookup_elem(&fr_subscribers, &slot);
	next_pn = bpf_map_lookup_elem(&fr_next_pn, &slot);
	if (!sub || !next_pn || !sub->active)
		return TC_ACT_UNSPEC;
#if FR_ENCRYPTED_SUBSCRIBERS
	/* The stack sealed this packet under a number it took from fr_next_pn itself: renumbering would break its tag, and
	 * the stack knows the number, so no event either. */
	if (fr_enc_slot(slot)) {
		fr_qc_count(FR_QC_STACK_PASSED);
		return TC_ACT_UNSPEC;
	}
#endif
	/* Numbered on the subscriber's own device, the route's output device; below it (a bridge port, a VLAN's lower
	 * device) the same packet passes again already numbered (fr_device.h). */
	if (!fr_on_subscriber_device(skb, sub))
		return TC_ACT_UNSPEC;
	/* Only what numbering needs: a stack packet (a QUIC ACK) may be shorter than the fast-path header. */
	if (fr_load_prefix(skb, &pkt, old_h, FR_CONN_HEADER_LEN) || !fr_match_connection(old_h))
		return TC_ACT_UNSPEC;

	st = fr_stats_get();
	ss = fr_sub_stats_get(slot);

#if FR_HAS_PACKET_NUMBER
	upstream_pn = fr_read_packet_number(old_h);
	pn = upstream_pn;
#if FR_PN_TRANSLATE
	{
		__u8 new_h[FR_HEADER_BUF_LEN];

		/* From here the packet belongs to a numbered connection, so it leaves with a kernel number or not at all:
		 * the number the stack wrote may be one the kernel already gave a copy, and the subscriber would take the
		 * second packet under it for a duplicate (or the first for a lost one). A UDP_SEGMENT super-packet carries
		 * several datagrams behind one header of which only the first could be numbered, and a packet we cannot
		 * make writable cannot be numbered at all: both are dropped and counted (the stack must not use GSO towards
		 * subscribers of a translated connection; its own retransmission covers the drop). */
		if (skb->gso_size || bpf_skb_pull_data(skb, pkt.payload_off + FR_CONN_HEADER_LEN)) {
			FR_COUNT(st, egress_userspace_dropped);
			return TC_ACT_SHOT;
		}
		__builtin_memcpy(new_h, old_h, sizeof(new_h));
		pn = fr_take_packet_number(next_pn);
		fr_write_packet_number(new_h, pn);
		if (fr_rewrite_l4(skb, &pkt, (const __be16 *)0, old_h, new_h, FR_CONN_HEADER_LEN))
			return TC_ACT_SHOT; /* half-written: must not leave */
		FR_COUNT(st, egress_userspace_numbered);
	}
#endif
#endif

	FR_COUNT(ss, userspace_packets);
#if FR_HAS_PACKET_NUMBER && FR_PN_TRANSLATE
	fr_registration_break(slot);
#endif

	e = fr_event_reserve(st);
	if (e) {
#if FR_HAS_PACKET_NUMBER
		e->packet_number = pn;
		/* The number the stack wrote: lets it match the event to the packet it sent. */
		e->upstream_packet_number = upstream_pn;
#endif
		/* Stream id and urgency stay 0: only fast-path packets are known to carry those fields. */
		e->slot = slot;
		e->length = pkt.payload_len;
		e->origin = FR_ORIGIN_USERSPACE;
		fr_event_submit(e);
	}
	return TC_ACT_OK;
}

SEC("tc")
int fr_subscriber_egress(struct __sk_buff *skb)
{
	const struct fr_config *cfg = fr_config_get();
	__u16 relay_port = fr_relay_port_of(cfg);
	__u32 slot;

	if (fr_mark_to_slot(fr_clone_magic_of(cfg), skb->mark, &slot))
		return fr_egress_forwarded(skb, slot, relay_port, fr_config_flags_of(cfg));
	return fr_egress_userspace(skb, relay_port);
}

/* ------------------------------------------------------------------------------------------------------ */
/* Subscriber ingress                                                                                      */
/* ------------------------------------------------------------------------------------------------------ */

/* Observation only. A subscriber becomes active when userspace has finished its handshake and says so;
 * a datagram from a known address proves nothing about who sent it. */
SEC("tc")
int fr_subscriber_ingress(struct __sk_buff *skb)
{
	struct fr_sub_stats *ss;
	struct fr_packet pkt;
	struct fr_stats *st;
	__u32 *slot;

	/* Counted once, on the VLAN device above (fr_device.h). */
	if (fr_vlan_tagged(skb))
		return TC_ACT_UNSPEC;
	if (fr_parse_udp(skb, &pkt) != FR_PARSE_OK || pkt.dst.port != bpf_htons(fr_relay_port()))
		return TC_ACT_UNSPEC;

	st = fr_stats_get();
	FR_COUNT(st, subscriber_ingress_seen);

	slot = bpf_map_lookup_elem(&fr_sub_by_endpoint, &pkt.src);
	if (!slot) {
		FR_COUNT(st, subscriber_ingress_unknown);
		return TC_ACT_UNSPEC;
	}
	ss = fr_sub_stats_get(*slot);
	if (ss) {
		__sync_fetch_and_add(&ss->received_packets, 1);
		__sync_fetch_and_add(&ss->received_bytes, pkt.payload_len);
		/* Last writer wins; any of the racing timestamps is a fine liveness signal. */
		*(volatile __u64 *)&ss->last_received_ns = bpf_ktime_get_ns();
	}
	return TC_ACT_UNSPEC;
}
