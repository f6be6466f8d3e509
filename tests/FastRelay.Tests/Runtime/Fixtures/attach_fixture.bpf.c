/* Test fixture for TC attach: three programs that count the packets they see and pass them on (TC_ACT_UNSPEC), so
 * several of them on one hook must all see every packet. "fx_foreign" lacks FastRelay's "fr_" prefix and stands for
 * somebody else's program. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} fx_seen SEC(".maps");

static __always_inline int count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&fx_seen, &slot);
	if (n)
		__sync_fetch_and_add(n, 1);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int fr_fx_first(struct __sk_buff *skb) { return count(0); }

SEC("tc")
int fr_fx_second(struct __sk_buff *skb) { return count(1); }

SEC("tc")
int fx_foreign(struct __sk_buff *skb) { return count(2); }

char LICENSE[] SEC("license") = "GPL";
