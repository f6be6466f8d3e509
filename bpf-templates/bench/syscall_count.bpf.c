/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Syscalls made by one process, for `fastrelay bench --profile moq` ("syscalls per forwarded packet"): attached to the
 * raw_syscalls:sys_enter tracepoint, it counts every syscall entry of the threads whose tgid is target[0] (set by the
 * bench before attaching), by syscall number (so a report can say which ones), in per-CPU counters so that no two
 * CPUs share a cache line or need an atomic. Numbers at or above SYSCALL_SLOTS go to the last slot. Every other
 * process costs one map lookup and a compare per syscall while the bench runs.
 *
 * clang -O2 -g -target bpf -mcpu=v3 -c syscall_count.bpf.c -o syscall_count.bpf.o
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target SEC(".maps");

#define SYSCALL_SLOTS 512

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYSCALL_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} syscalls SEC(".maps");

/* The tracepoint's record: the common header (8 bytes), then the syscall number and its six arguments. */
struct sys_enter_record {
	__u64 common;
	long id;
	unsigned long args[6];
};

SEC("tp/raw_syscalls/sys_enter")
int count_syscalls(struct sys_enter_record *ctx)
{
	__u32 zero = 0;
	__u32 *tgid = bpf_map_lookup_elem(&target, &zero);
	if (!tgid || *tgid == 0 || (__u32)(bpf_get_current_pid_tgid() >> 32) != *tgid)
		return 0;
	__u32 slot = ctx->id >= 0 && ctx->id < SYSCALL_SLOTS - 1 ? (__u32)ctx->id : SYSCALL_SLOTS - 1;
	__u64 *count = bpf_map_lookup_elem(&syscalls, &slot);
	if (count)
		*count += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
