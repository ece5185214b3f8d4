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
 * Kernel frames kept per stack.  127 is the kernel's default
 * kernel.perf_event_max_stack; bpf_get_stack() returns no more than that.
 */
#define MAX_STACK_DEPTH 127

/* User frames the daemon unwinds at most; deeper stacks end in "[truncated]". */
#define MAX_USER_FRAMES 256

/*
 * Bytes of the user stack copied with every sample, from the page of the
 * stack pointer up: the daemon unwinds them with the DWARF call frame information of the
 * code (complete stacks through code built without frame pointers).  Frames
 * above the copy are cut: such stacks end in a frame named "[truncated]".
 * perf --call-graph dwarf copies 8 KiB by default.
 */
#define STACK_COPY_BYTES 16384
#define STACK_COPY_CHUNK 4096 /* one page: the copy stops at the first unmapped one */

/* The user registers and stack of a thread at a sample, for unwinding. */
struct user_stack_copy {
	__u64 ip, sp, bp; /* user registers (saved at kernel entry for kernel samples) */
	__u64 start;      /* user address of stack[0]: sp's page */
	__u32 len;        /* bytes in stack[] */
	__u32 pad;
	__u8 stack[STACK_COPY_BYTES];
};

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
	__u32 pad;
	char comm[TASK_COMM_LEN];   /* thread name */
	__u64 kernel_pcs[MAX_STACK_DEPTH];
	struct user_stack_copy user;
};

/* Per-CPU counters of the CPU sampler, indexed by enum cpu_counter. */
enum cpu_counter {
	CPU_COUNTER_SAMPLES,     /* samples of the target sent to user space */
	CPU_COUNTER_LOST,        /* samples dropped: ring buffer full */
	CPU_COUNTER_USER_ERRORS, /* user stack could not be read at all */
	CPU_COUNTER_MAX,
};

#endif /* PPROFD_BPF_H */
