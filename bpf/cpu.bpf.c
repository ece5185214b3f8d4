// SPDX-License-Identifier: GPL-2.0
/*
 * cpu.bpf.c - CPU sampler: runs on every cpu-clock perf event of every CPU,
 * keeps the samples that belong to the target process and sends each, with
 * its kernel and user stacks, to user space through a ring buffer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "pprofd.h"

char LICENSE[] SEC("license") = "GPL";

/* Set between __open() and __load(). */
const volatile __u32 target_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* 4 MiB: ~1 s of samples at 1000 Hz on 2 CPUs x 2 */
} samples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CPU_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);

	if (v)
		*v += 1;
}

SEC("perf_event")
int sample_cpu(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct cpu_sample *s;
	long n;

	if ((__u32)(id >> 32) != target_pid)
		return 0;

	s = bpf_ringbuf_reserve(&samples, sizeof(*s), 0);
	if (!s) {
		count(CPU_COUNTER_LOST);
		return 0;
	}
	s->pid = id >> 32;
	s->tid = (__u32)id;
	s->time_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(s->comm, sizeof(s->comm));

	n = bpf_get_stack(ctx, s->kernel_pcs, sizeof(s->kernel_pcs), 0);
	s->kernel_depth = n > 0 ? n / sizeof(__u64) : 0;

	n = bpf_get_stack(ctx, s->user_pcs, sizeof(s->user_pcs), BPF_F_USER_STACK);
	if (n > 0) {
		s->user_depth = n / sizeof(__u64);
	} else {
		s->user_depth = 0;
		if (n < 0)
			count(CPU_COUNTER_USER_ERRORS);
	}

	/*
	 * The user registers: in user mode they are ctx->regs; in the kernel,
	 * the ones saved at entry.  bpf_get_stack() found them the same way.
	 */
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	struct pt_regs *uregs = (struct pt_regs *)bpf_task_pt_regs(task);
	__u64 sp = uregs->sp;

	s->user_sp = sp;
	if (bpf_probe_read_user(s->stack_top, sizeof(s->stack_top), (void *)sp))
		__builtin_memset(s->stack_top, 0, sizeof(s->stack_top));

	bpf_ringbuf_submit(s, 0);
	count(CPU_COUNTER_SAMPLES);
	return 0;
}
