/* SPDX-License-Identifier: MIT */
/*
 * pprofd.h - data shared by the BPF programs and the daemon.
 *
 * Data only: fixed-width types and arrays, no pointers.  Every constant the
 * two sides must agree on is defined here once.
 */
#ifndef PPROFD_BPF_H
#define PPROFD_BPF_H

/*
 * Frames kept per stack, kernel and user each.  127 is the kernel's default
 * kernel.perf_event_max_stack; bpf_get_stack() returns no more than that.
 */
#define MAX_STACK_DEPTH 127

/*
 * Words copied from the top of the user stack with every sample.  A
 * frame-pointer walk misses the caller of a leaf that has not pushed its
 * frame yet (or has popped it): its return address is then at sp[0] or
 * sp[1], which the daemon picks from this copy.
 */
#define STACK_TOP_WORDS 2

#define TASK_COMM_LEN 16

/*
 * Randomized sampling intervals.  A fixed sampling period aliases with work
 * that repeats at the same period (a loop doing 5+3+2 ms of CPU per 10 ms
 * round is seen in one phase only).  So the perf event ticks on a finer grid
 * (the period / SAMPLE_GRID_FACTOR_X10 * 10, deliberately not a divisor of
 * round numbers of milliseconds) and each thread keeps a random countdown of
 * ticks: a sample is taken when it runs out and weighs exactly the CPU time
 * ticked since the thread's previous sample.  Totals stay exact; phases are
 * uniform.  Below SAMPLE_GRID_MIN_NS a tick the grid is the period itself.
 */
#define SAMPLE_GRID_FACTOR_X10 43
#define SAMPLE_GRID_MIN_NS 50000

/* One CPU sample, as sent through the ring buffer. */
struct cpu_sample {
	__u32 pid;                  /* thread group id */
	__u32 tid;                  /* thread id */
	__u64 time_ns;              /* bpf_ktime_get_ns() */
	__u64 weight_ns;            /* CPU time this sample stands for */
	__u32 kernel_depth;         /* frames in kernel_pcs */
	__u32 user_depth;           /* frames in user_pcs */
	__u64 user_sp;
	__u64 stack_top[STACK_TOP_WORDS]; /* user sp[0], sp[1]; 0 if unreadable */
	char comm[TASK_COMM_LEN];   /* thread name */
	__u64 kernel_pcs[MAX_STACK_DEPTH];
	__u64 user_pcs[MAX_STACK_DEPTH];
};

/* Per-CPU counters of the CPU sampler, indexed by enum cpu_counter. */
enum cpu_counter {
	CPU_COUNTER_SAMPLES,     /* samples of the target sent to user space */
	CPU_COUNTER_LOST,        /* samples dropped: ring buffer full */
	CPU_COUNTER_USER_ERRORS, /* user stack could not be read */
	CPU_COUNTER_MAX,
};

#endif /* PPROFD_BPF_H */
