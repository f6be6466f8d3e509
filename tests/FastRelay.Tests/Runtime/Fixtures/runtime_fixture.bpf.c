/* Test fixture for the libbpf interop tests: one tc program touching every map kind the runtime wraps. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Holes on purpose: the BTF layout check must see the offsets the compiler chose, not the member order. */
struct fx_record {
	__u8 kind;      /* 0, then 3 bytes of padding */
	__u32 id;       /* 4 */
	__u16 port;     /* 8, then 6 bytes of padding */
	__u64 bytes;    /* 16 */
	__u8 tag[6];    /* 24, then 2 bytes of tail padding */
};                  /* 32 */

/* One per matched packet; every field is something a test controls, so records compare byte for byte. */
struct fx_event {
	__u32 key;
	__u32 mark;       /* skb->mark as the test set it in ctx_in */
	__u32 priority;
	__u32 cb0;
	__u32 len;
	__u32 record_id;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct fx_record);
} fx_records SEC(".maps");

/* Slot 0: the verdict returned for matched packets. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} fx_verdicts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} fx_packets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} fx_events SEC(".maps");

/* Packet: Ethernet header, then a big-endian __u32 key. A known key rewrites the destination MAC to the record's
 * tag, sets skb->mark to the record id, emits an event and returns the configured verdict. */
SEC("tc")
int fx_classify(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 zero = 0;

	__u64 *count = bpf_map_lookup_elem(&fx_packets, &zero);
	if (count)
		*count += 1; /* this CPU's slot: no atomic needed */

	struct ethhdr *eth = data;
	__be32 *key_be = (void *)(eth + 1);
	if ((void *)(key_be + 1) > data_end)
		return TC_ACT_SHOT;
	__u32 key = bpf_ntohl(*key_be);

	struct fx_record *rec = bpf_map_lookup_elem(&fx_records, &key);
	if (!rec)
		return TC_ACT_UNSPEC;
	__sync_fetch_and_add(&rec->bytes, skb->len);
	__builtin_memcpy(eth->h_dest, rec->tag, ETH_ALEN);

	struct fx_event *ev = bpf_ringbuf_reserve(&fx_events, sizeof(*ev), 0);
	if (ev) {
		ev->key = key;
		ev->mark = skb->mark;
		ev->priority = skb->priority;
		ev->cb0 = skb->cb[0];
		ev->len = skb->len;
		ev->record_id = rec->id;
		bpf_ringbuf_submit(ev, BPF_RB_NO_WAKEUP);
	}

	skb->mark = rec->id;
	__u32 *verdict = bpf_map_lookup_elem(&fx_verdicts, &zero);
	return verdict ? *verdict : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
