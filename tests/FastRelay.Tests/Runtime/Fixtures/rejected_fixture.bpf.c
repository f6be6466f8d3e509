/* Two programs, one the verifier accepts and one it must reject, for per-program verdicts and load errors. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int fx_accepted(struct __sk_buff *skb)
{
	return skb->len > 100 ? TC_ACT_OK : TC_ACT_UNSPEC;
}

/* Reads packet byte 64 without comparing against data_end: "invalid access to packet". */
SEC("tc")
int fx_out_of_bounds(struct __sk_buff *skb)
{
	__u8 *data = (void *)(long)skb->data;
	return data[64];
}

char LICENSE[] SEC("license") = "GPL";
