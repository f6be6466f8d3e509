/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prototype of the encrypted fast path's forwarding step (issue 16): open the upstream packet ONCE, clone it, seal
 * each clone with its subscriber's keys. Not the relay (no L2/L3 rewrite, no stream mapping, no registration events):
 * it proves the mechanism the relay will use, with real clones through bpf_clone_redirect.
 *
 *   quic_fwd_ingress (tc ingress): opens the packet with the upstream connection's keys (fr_quic_fwd_config) into
 *       per-CPU scratch FR_QC_SCRATCH_OPEN. A packet that does not authenticate is not cloned and goes up untouched.
 *       Otherwise it is cloned to every subscriber in fr_quic_fwd_subs, each clone tagged in skb->mark with the
 *       subscriber's index and the plaintext's sequence number; the original goes up unchanged (still encrypted: the
 *       relay's stack acknowledges it).
 *   quic_fwd_egress (tc egress): bpf_clone_redirect runs it synchronously on the same CPU, inside the ingress
 *       program's helper call, so the plaintext is still in scratch. It copies the plaintext, puts in the subscriber's
 *       connection id and its next packet number, seals with the subscriber's key set, fixes the UDP checksum. A clone
 *       whose plaintext is gone (sequence mismatch) is dropped: it must never leave with the upstream's ciphertext.
 *       The sealed copy is also kept in fr_quic_fwd_copies (the prototype's record for the tests).
 */
#include "fr_crypto_kfuncs.h"
#include "fr_quic_crypto.h"
#include "fr_quic_packet.h"
#include "fr_quic_install.h"

char LICENSE[] SEC("license") = "GPL";

#define FR_QC_FWD_MAX_SUBS 8
#define FR_QC_FWD_MAGIC 0xC7U /* top byte of a clone's mark */

struct fr_quic_fwd_config {
	__u32 upstream_slot;
	__u32 count; /* subscribers in fr_quic_fwd_subs[0, count) */
};

struct fr_quic_fwd_sub {
	__u32 slot;     /* its key set and connection in fr_quic_ctxs / fr_quic_keys / fr_quic_conns */
	__u32 ifindex;  /* where its clone goes */
	__u8 dcid_len;  /* must equal the upstream's (the prototype does not resize packets) */
	__u8 dcid[20];
	__u8 pad[3];
};

struct fr_quic_fwd_copy {
	__u32 len;
	__u32 pad;
	__u64 pn;
	__u8 pkt[FR_QC_MAX_PACKET];
};

enum fr_qc_fwd_stat {
	FR_QC_FWD_CLONED = 0,
	FR_QC_FWD_SEALED,
	FR_QC_FWD_NOT_AUTHENTIC,  /* upstream packet refused: nothing cloned */
	FR_QC_FWD_STALE,          /* a clone without its plaintext: dropped */
	FR_QC_FWD_MISMATCH,       /* subscriber layout differs from the upstream packet's: dropped */
	FR_QC_FWD_SEAL_FAILED,
	FR_QC_FWD_STAT_COUNT,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fr_quic_fwd_config);
} fr_quic_fwd_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FR_QC_FWD_MAX_SUBS);
	__type(key, __u32);
	__type(value, struct fr_quic_fwd_sub);
} fr_quic_fwd_subs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FR_QC_FWD_MAX_SUBS);
	__type(key, __u32);
	__type(value, struct fr_quic_fwd_copy);
} fr_quic_fwd_copies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FR_QC_FWD_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} fr_quic_fwd_stats SEC(".maps");

static __always_inline void fr_qc_fwd_count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&fr_quic_fwd_stats, &stat);

	if (v)
		*v += 1;
}

SEC("tc")
int quic_fwd_ingress(struct __sk_buff *skb)
{
	__u32 zero = 0, quic_off, quic_len, header_len = 0, mark = skb->mark, count, i, upstream;
	struct fr_quic_fwd_config *cfg;
	struct fr_quic_conn *conn;
	struct fr_qc_scratch *s;
	__u64 pn = 0, *largest;
	int stat;

	cfg = bpf_map_lookup_elem(&fr_quic_fwd_config, &zero);
	if (!cfg)
		return TC_ACT_OK;
	upstream = cfg->upstream_slot;
	count = cfg->count;
	if (fr_qc_prepare(skb, upstream, FR_QC_SCRATCH_OPEN, &s, &conn, &largest, &quic_off, &quic_len))
		return TC_ACT_OK;
	stat = fr_qc_open_scratch(FR_QC_SCRATCH_OPEN, s, conn, *largest, upstream, quic_len, &pn, &header_len);
	if (stat) {
		fr_qc_count(stat);
		fr_qc_fwd_count(FR_QC_FWD_NOT_AUTHENTIC);
		return TC_ACT_OK; /* up to the stack as it came, which drops it */
	}
	fr_qc_raise_largest(largest, pn);
	fr_qc_count(FR_QC_OPENED);

	s->seq++;
	s->valid = 1;
	for (i = 0; i < FR_QC_FWD_MAX_SUBS; i++) {
		struct fr_quic_fwd_sub *sub;

		if (i >= count)
			break;
		sub = bpf_map_lookup_elem(&fr_quic_fwd_subs, &i);
		if (!sub)
			break;
		skb->mark = (FR_QC_FWD_MAGIC << 24) | ((s->seq & 0xffff) << 8) | i;
		/* Negative: no clone made. 0 or a positive NET_XMIT_* code: the clone went through the device's egress
		 * (where quic_fwd_egress sealed it) and to its driver, which may still have dropped it. */
		if (bpf_clone_redirect(skb, sub->ifindex, 0) >= 0)
			fr_qc_fwd_count(FR_QC_FWD_CLONED);
	}
	s->valid = 0;
	skb->mark = mark;
	return TC_ACT_OK;
}

/* Replaces the low pn_len bytes of the packet number field with those of pn (big-endian), keeping what follows. */
static __always_inline void fr_qc_write_pn(struct fr_qc_scratch *s, __u32 pn_offset, __u32 pn_len, __u64 pn)
{
	__u32 at = pn_offset & (FR_QC_MAX_HEADER - 1);
	__u32 rest = (__u32)(0xffffffffULL >> (8 * pn_len)); /* the bytes after the field in the 4-byte word */
	__u32 word = bpf_ntohl(*(__u32 *)&s->pkt[at]);
	__u32 field = (__u32)(((__u64)pn << (8 * (4 - pn_len))) & ~(__u64)rest);

	*(__u32 *)&s->pkt[at] = bpf_htonl(field | (word & rest));
}

SEC("tc")
int quic_fwd_egress(struct __sk_buff *skb)
{
	__u32 mark = skb->mark, index, seq, quic_off, quic_len, dcid_len, open_index = FR_QC_SCRATCH_OPEN;
	struct fr_qc_scratch *s, *open;
	struct fr_quic_fwd_copy *copy;
	struct fr_quic_fwd_sub *sub;
	struct fr_quic_conn *conn;
	__s64 old_sum, new_sum;
	__u64 pn, *largest;
	int stat;

	if ((mark >> 24) != FR_QC_FWD_MAGIC)
		return TC_ACT_OK; /* not one of our clones */
	index = mark & 0xff;
	seq = (mark >> 8) & 0xffff;
	skb->mark = 0;
	sub = bpf_map_lookup_elem(&fr_quic_fwd_subs, &index);
	open = bpf_map_lookup_elem(&fr_quic_scratch, &open_index);
	if (!sub || !open)
		return TC_ACT_SHOT;
	if (!open->valid || (open->seq & 0xffff) != seq) {
		fr_qc_fwd_count(FR_QC_FWD_STALE);
		return TC_ACT_SHOT;
	}
	if (fr_qc_prepare(skb, sub->slot, FR_QC_SCRATCH_SEAL, &s, &conn, &largest, &quic_off, &quic_len)) {
		fr_qc_fwd_count(FR_QC_FWD_MISMATCH);
		return TC_ACT_SHOT;
	}
	dcid_len = sub->dcid_len;
	if (dcid_len == 0 || dcid_len > 20 || conn->pn_offset != 1 + dcid_len) {
		fr_qc_fwd_count(FR_QC_FWD_MISMATCH);
		return TC_ACT_SHOT;
	}
	/* The clone's bytes (the upstream ciphertext) are in scratch now: their sum leaves the checksum. */
	old_sum = fr_qc_sum(s, quic_len, 0);
	if (quic_len > FR_QC_MAX_PACKET || bpf_probe_read_kernel(s->pkt, quic_len, open->pkt) ||
	    bpf_probe_read_kernel(&s->pkt[1], dcid_len, sub->dcid)) {
		fr_qc_fwd_count(FR_QC_FWD_SEAL_FAILED);
		return TC_ACT_SHOT;
	}
	/* The kernel numbers the subscriber's connection: the next number after the largest it gave. */
	pn = __sync_fetch_and_add(largest, 1) + 1;
	fr_qc_write_pn(s, conn->pn_offset, (s->pkt[0] & 0x03) + 1, pn);
	stat = fr_qc_seal_scratch(FR_QC_SCRATCH_SEAL, s, conn, sub->slot, quic_len, pn, conn->send_phase);
	if (stat) {
		fr_qc_count(stat);
		fr_qc_fwd_count(FR_QC_FWD_SEAL_FAILED);
		return TC_ACT_SHOT;
	}
	new_sum = fr_qc_sum(s, quic_len, 0);
	if (bpf_skb_store_bytes(skb, quic_off, s->pkt, quic_len, 0) || fr_qc_fix_udp_csum(skb, quic_off, old_sum, new_sum)) {
		fr_qc_fwd_count(FR_QC_FWD_SEAL_FAILED);
		return TC_ACT_SHOT;
	}
	fr_qc_count(FR_QC_SEALED);
	fr_qc_fwd_count(FR_QC_FWD_SEALED);
	copy = bpf_map_lookup_elem(&fr_quic_fwd_copies, &index);
	if (copy && quic_len <= FR_QC_MAX_PACKET && !bpf_probe_read_kernel(copy->pkt, quic_len, s->pkt)) {
		copy->len = quic_len;
		copy->pn = pn;
	}
	return TC_ACT_OK;
}
