/* Test fixture for bpffs pinning: one map libbpf pins by name (only ever load it with BpfObjectOptions.PinRootPath,
 * or it lands in /sys/fs/bpf itself) and one the runtime pins explicitly. Struct values give bpftool BTF to print. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct fx_pin_value {
	__u32 subscriber_id;
	__u16 port;
	__u16 flags;
	__u64 packets;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, struct fx_pin_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} fx_by_name SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct fx_pin_value);
} fx_explicit SEC(".maps");

SEC("tc")
int fr_fx_pin(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct fx_pin_value *v = bpf_map_lookup_elem(&fx_by_name, &k);
	if (v)
		__sync_fetch_and_add(&v->packets, 1);
	v = bpf_map_lookup_elem(&fx_explicit, &k);
	if (v)
		__sync_fetch_and_add(&v->packets, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
