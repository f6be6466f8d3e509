/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel cache (descriptor KernelCachePackets > 0): the last FR_CACHE_PACKETS upstream packets of each channel,
 * kept by upstream ingress in fr_cache for repair and late joiners, so that a relay whose userspace needs nothing
 * else from the originals (FR_CONFIG_CONSUME_CACHED) never has to receive them.
 *
 * Userspace reads entries with map lookups while the kernel may be rewriting them, so an entry is published like a
 * seqlock: its key (upstream_packet_number) is set to FR_CACHE_WRITING before the payload changes and to the real
 * number after; a reader accepts a copy only when the key matched before and still matches after it copied.
 */
#ifndef FR_CACHE_H
#define FR_CACHE_H

#if FR_KERNEL_CACHE && FR_HAS_PACKET_NUMBER

#if (FR_CACHE_PACKETS & (FR_CACHE_PACKETS - 1)) != 0
#error "FR_CACHE_PACKETS must be a power of two"
#endif

/* Keeps the packet in its channel's ring; 1 when it is there (so the original is no longer needed). */
static __always_inline int fr_cache_store(struct __sk_buff *skb, const struct fr_packet *pkt, const __u8 *hdr,
					  const struct fr_channel *ch, __u64 now)
{
	__u64 upstream_pn = fr_read_packet_number(hdr);
	__u32 index = ch->cache_base + (__u32)(upstream_pn & (FR_CACHE_PACKETS - 1));
	__u32 len = pkt->payload_len;
	struct fr_cache_entry *e;

	/* Too large for an entry: the relay's userspace caches it from the original instead. */
	if (len == 0 || len > FR_CACHE_PACKET_BYTES)
		return 0;
	e = bpf_map_lookup_elem(&fr_cache, &index);
	if (!e)
		return 0;
	*(volatile __u64 *)&e->upstream_packet_number = FR_CACHE_WRITING;
	asm volatile("" ::: "memory");
	if (bpf_skb_load_bytes(skb, pkt->payload_off, e->data, len))
		return 0; /* the entry stays marked as being written: nobody reads a half copy */
	e->length = len;
	e->received_ns = now;
	asm volatile("" ::: "memory");
	*(volatile __u64 *)&e->upstream_packet_number = upstream_pn;
	return 1;
}

#endif
#endif /* FR_CACHE_H */
