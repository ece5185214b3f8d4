// SPDX-License-Identifier: GPL-2.0
/*
 * cpu.bpf.c - CPU sampler: runs on the cpu-clock perf events of the target's
 * threads (inherited by the threads they create), keeps the samples that
 * belong to the target process and sends each, with its kernel and user
 * stacks, to user space through a ring buffer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "pprofd.h"
#include "ringbuf.bpf.h"
#include "stack.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set between __open() and __load(). */
const volatile __u32 target_pid = 0;

/*
 * Set by user space before the perf events are attached: countdowns are
 * drawn uniformly from [1, max_ticks]; a new generation restarts every
 * thread's countdown (stale state from an earlier sampling session).
 */
__u32 max_ticks = 0; /* 0: as 1 */
__u32 generation = 0;

/*
 * The context word's chain of loads (pprofd.h), set by user space before
 * the perf events are attached: context_loads 0 (none) to
 * CPU_CONTEXT_MAX_LOADS; the first at fs_base + context_offsets[0], each
 * next at the word loaded + context_offsets[i].
 */
__u32 context_loads = 0;
__s64 context_offsets[CPU_CONTEXT_MAX_LOADS] = {};

struct tick_state {
	__u32 generation;
	__u32 left;    /* ticks to the next sample */
	__u64 elapsed; /* CPU ns ticked since the previous sample */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tick_state);
} ticks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CPU_RING_BYTES);
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

/* The context word of the current thread (user memory, no faults taken). */
static __always_inline __u64 context_word(struct task_struct *task)
{
	__u64 v = task->thread.fsbase;
	__u32 n = context_loads;

	if (!n || !v)
		return 0;
	for (__u32 i = 0; i < CPU_CONTEXT_MAX_LOADS; i++) {
		if (i >= n)
			break;
		if (bpf_probe_read_user(&v, sizeof(v), (void *)(v + context_offsets[i])) || !v)
			return 0;
	}
	return v;
}

SEC("perf_event")
int sample_cpu(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct cpu_sample *s;
	long n;

	/* Inherited events follow fork children too: keep the target's own. */
	if ((__u32)(id >> 32) != target_pid)
		return 0;

	struct task_struct *task = bpf_get_current_task_btf();
	struct tick_state *st = bpf_task_storage_get(&ticks, task, 0,
						     BPF_LOCAL_STORAGE_GET_F_CREATE);
	/* Read once: clang would otherwise offset the ctx pointer, which the
	 * verifier refuses. */
	__u64 period = ctx->sample_period;
	__u64 weight;

	barrier_var(period);
	weight = period;

	if (st) {
		__u32 max = max_ticks ? max_ticks : 1;

		if (st->generation != generation) {
			/* A random first phase, as Go's profiling timer. */
			st->generation = generation;
			st->left = bpf_get_prandom_u32() % max + 1;
			st->elapsed = 0;
		}
		st->elapsed += period;
		if (--st->left)
			return 0;
		weight = st->elapsed;
		st->elapsed = 0;
		st->left = bpf_get_prandom_u32() % max + 1;
	}

	s = bpf_ringbuf_reserve(&samples, sizeof(*s), 0);
	if (!s) {
		count(CPU_COUNTER_LOST);
		return 0;
	}
	s->pid = id >> 32;
	s->tid = (__u32)id;
	s->time_ns = bpf_ktime_get_ns();
	s->weight_ns = weight;
	s->context = context_word(task);
	bpf_get_current_comm(s->comm, sizeof(s->comm));

	n = bpf_get_stack(ctx, s->kernel_pcs, sizeof(s->kernel_pcs), 0);
	s->kernel_depth = n > 0 ? n / sizeof(__u64) : 0;

	n = bpf_get_stack(ctx, s->fp_pcs, sizeof(s->fp_pcs), BPF_F_USER_STACK);
	s->fp_depth = n > 0 ? n / sizeof(__u64) : 0;
	if (!capture_user_stack(task, &s->user))
		count(CPU_COUNTER_USER_ERRORS);

	bpf_ringbuf_submit(s, ringbuf_wakeup(&samples, sizeof(*s)));
	count(CPU_COUNTER_SAMPLES);
	return 0;
}
