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

/*
 * The user registers and stack of a thread at a sample, for unwinding.
 *
 * A thread's frames may go on on another stack: a Go thread on its system
 * stack (g0) doing a goroutine's work (runtime.systemstack, mcall,
 * morestack, asmcgocall), or a goroutine calling the vDSO on g0's stack
 * (runtime.nanotime1, time.now).  Then the contexts saved at the switch are
 * recorded too (the goroutine's m.curg.sched, the vDSO call's m.vdsoSP/PC;
 * sp 0: none) and the copy is split: stack[0, len) from sp's page up to
 * the top of the system stack, stack[other_off, other_off + other_len)
 * from the page of the other stack's sp up (other_len 0: no second window).
 */
struct user_stack_copy {
	__u64 ip, sp, bp; /* user registers (saved at kernel entry for kernel samples) */
	__u64 start;      /* user address of stack[0]: sp's page */
	__u32 len;        /* bytes at stack[0] */
	__u32 limited;    /* the copy stopped at the bytes it was asked for, not at
			   * the end of the stack or of stack[] */
	__u64 other_start; /* user address of stack[other_off] */
	__u32 other_off;  /* where the second window is in stack[] */
	__u32 other_len;  /* bytes of the second window */
	__u64 g_pc, g_sp, g_bp;          /* the goroutine's saved context */
	__u64 vdso_pc, vdso_sp, vdso_bp; /* a vDSO call's caller (Go's m.vdsoPC/SP) */
	__u8 stack[STACK_COPY_BYTES];
};

/*
 * Records with a user stack whose size varies (block waits, lock wakes) go
 * through their rings packed, so that a record takes the ring space it
 * uses, not the whole struct's (a forced wakeup of the daemon each time a
 * ring passes a quarter, ringbuf.bpf.h): the struct's fields up to its
 * kernel_pcs, kernel_depth of them, then the user_stack_copy's header
 * (USER_STACK_HEAD bytes) and the bytes of its windows from each one's sp
 * (8-byte aligned) up, back to back: start and other_start are those of
 * the bytes sent, other_off is len.  A record's size is exactly that.
 */
#define USER_STACK_HEAD __builtin_offsetof(struct user_stack_copy, stack)

/*
 * Where a Go target's runtime keeps what the stack capture reads (byte
 * offsets; set by the daemon between __open() and __load(), enabled 0 for
 * every other target, whose programs then have no such code at all):
 * the thread's g is at its thread pointer (fs base) + tls_g; g.m, m.g0,
 * m.curg, g.sched, m.vdsoSP (m.vdsoPC follows it).
 */
struct go_stack_switch {
	__u32 enabled;
	__s32 tls_g;
	__u32 g_m, g_sched_sp, g_sched_pc, g_sched_bp;
	__u32 m_g0, m_curg, m_vdso_sp; /* m_vdso_sp 0: not read */
	__u32 pad;
};

#define TASK_COMM_LEN 16

/*
 * Ring buffer sizes (bytes, powers of two, at least a page) and how often
 * the daemon drains them: records do not wake it unless a ring is a
 * quarter full (see ringbuf.bpf.h), so a ring holds four wake-ups' worth
 * of records at the peak rate, the other three quarters being the room
 * left while the daemon is busy elsewhere.  Each ring costs its size in
 * the daemon's RSS (mapped once, bpfring.h; the kernel populates the whole
 * mapping): sized to the realistic peak, not more.  Record sizes include
 * their 8-byte headers.
 *
 * CPU: a sample is 18.1 KiB (the 16 KiB stack copy): 2 MiB hold 113, 56 ms
 * of 1000 Hz on two busy CPUs, a full drain's worth; past a quarter (28
 * samples, 14 ms) BPF wakes the daemon.
 */
#define RING_DRAIN_MS 50
#define CPU_RING_BYTES (2 << 20)
/*
 * Block: a recorded wait is sent packed (USER_STACK_HEAD): the bytes its
 * stack needs, at most 17.1 KiB (6.3 KiB on average on prometheus, where a
 * waiting Go thread sends its system stack and its goroutine's): 512 KiB
 * hold 29 to 80.  Waits shorter than
 * block_rate_ns are sampled, so a thread sends at most one per
 * block_rate_ns (100 us) of waiting on average.  The bench's switcher (two
 * threads, 600000 switches a second) sends ~6000 a second: a wake-up every
 * 1.2 ms, 3.6 ms of room; ~0.6% of them are lost there (1 MiB: ~0.15%),
 * the daemon unwinding them with a fifth of a core.
 */
#define BLOCK_RING_BYTES (512 << 10)
/*
 * Timeline (only while a trace runs): a sched_event is 56 bytes: 256 KiB
 * hold 4681, 33 ms of the switcher traced (143000 events a second, none
 * lost), a wake-up every 8 ms.
 */
#define TIMELINE_RING_BYTES (256 << 10)
/*
 * Lock: a contended wake with its stack is at most 16.1 KiB (packed: 9 KiB
 * on average on prometheus), a wait ended 40 bytes: 512 KiB hold 31 to 56
 * wakes, a wake-up after 7 to 14.  Wakes come at the pace
 * of contended releases: ~250 a second in tests/workloads/contention.
 */
#define LOCK_RING_BYTES (512 << 10)

/*
 * One thread of the target as the task iterator finds it (goroutine
 * profile): its state, name and stacks.  For a thread blocked in the kernel
 * the user registers are those saved at kernel entry: exact.
 */
struct thread_record {
	__u32 tid;
	__u32 state;        /* task->__state */
	__u32 exit_state;   /* task->exit_state */
	__u32 kernel_depth; /* frames in kernel_pcs */
	char comm[TASK_COMM_LEN];
	__u64 kernel_pcs[MAX_STACK_DEPTH];
	struct user_stack_copy user;
};

/* A thread created by the target (threadcreate profile): the creator's stacks. */
struct thread_creation {
	__u32 tid;          /* the creating thread */
	__u32 new_tid;      /* the thread created */
	__u32 kernel_depth; /* frames in kernel_pcs */
	__u32 pad;
	char comm[TASK_COMM_LEN]; /* the creator's name */
	__u64 kernel_pcs[MAX_STACK_DEPTH];
	struct user_stack_copy user;
};

/* Per-CPU counters of bpf/threads.bpf.c, indexed by enum threads_counter. */
enum threads_counter {
	THREADS_COUNTER_DUMPED,       /* thread records sent by the iterator */
	THREADS_COUNTER_DUMP_LOST,    /* thread records dropped: ring buffer full */
	THREADS_COUNTER_CREATED,      /* thread creations sent */
	THREADS_COUNTER_CREATE_LOST,  /* thread creations dropped: ring buffer full */
	THREADS_COUNTER_USER_ERRORS,  /* user stack could not be read at all */
	THREADS_COUNTER_MAX,
};

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

/*
 * The sample's context word: what a chain of loads from the sampled
 * thread's user memory ends at, read at the sample (the thread may run
 * something else by the time the daemon drains the ring).  The first load
 * is at the thread's TLS pointer (fs_base on x86-64) plus a signed offset,
 * each next one at the word loaded plus an offset; a load that fails, or
 * a zero word, ends the chain with 0.  The daemon turns the word into the
 * sample's labels (a Go target: TLS g, g.m, m.curg, curg.labels).
 */
#define CPU_CONTEXT_MAX_LOADS 4

/* One CPU sample, as sent through the ring buffer. */
struct cpu_sample {
	__u32 pid;                  /* thread group id */
	__u32 tid;                  /* thread id */
	__u64 time_ns;              /* bpf_ktime_get_ns() */
	__u64 weight_ns;            /* CPU time this sample stands for */
	__u64 context;              /* the context word, 0: none or not asked for */
	__u32 kernel_depth;         /* frames in kernel_pcs */
	__u32 fp_depth;             /* frames in fp_pcs */
	char comm[TASK_COMM_LEN];   /* thread name */
	__u64 kernel_pcs[MAX_STACK_DEPTH];
	/*
	 * The kernel's frame-pointer walk of the user stack: where a frame is
	 * larger than the stack copy (Go puts big buffers on the stack), the
	 * unwinder finishes the stack from it.
	 */
	__u64 fp_pcs[MAX_STACK_DEPTH];
	struct user_stack_copy user;
};

/* Per-CPU counters of the CPU sampler, indexed by enum cpu_counter. */
enum cpu_counter {
	CPU_COUNTER_SAMPLES,     /* samples of the target sent to user space */
	CPU_COUNTER_LOST,        /* samples dropped: ring buffer full */
	CPU_COUNTER_USER_ERRORS, /* user stack could not be read at all */
	CPU_COUNTER_MAX,
};

/*
 * Off-CPU (block profile).  A thread of the target that leaves the CPU to
 * wait (not preempted) is timed until it runs again.  Waits of at least
 * block_rate_ns are each recorded; a shorter one with probability
 * wait / block_rate_ns, weighing block_rate_ns / wait (Go's block profile
 * sampling: totals stay unbiased).  The user stack is copied when the thread
 * returns from the system call it blocked in (in its own context, same
 * stack); a wait outside a system call (page fault) keeps the kernel stack
 * and the user PC only.  Sent packed (see USER_STACK_HEAD).
 */
struct block_event {
	__u32 pid, tid;
	__u64 delay_ns;           /* this wait, as sampled: scaled when short */
	__u64 count_x1000;        /* 1000 per wait; more when a short one was sampled */
	__u32 kernel_depth;
	__u32 in_syscall;         /* 0: user stack is the PC only */
	char comm[TASK_COMM_LEN];
	__u64 kernel_pcs[MAX_STACK_DEPTH];
	struct user_stack_copy user;
};

/*
 * The scheduler timeline of the target's threads (/debug/pprof/trace), while
 * tracing is on: every switch in or out and every wakeup of a target thread.
 */
enum sched_event_kind {
	SCHED_SWITCH_IN,  /* tid starts running on cpu */
	SCHED_SWITCH_OUT, /* tid stops: state says why (0 = preempted) */
	SCHED_WAKEUP,     /* waker_tid woke tid */
};

struct sched_event {
	__u64 time_ns;
	__u32 kind;
	__u32 cpu;
	__u32 tid;
	__u32 state;     /* SWITCH_OUT: the task state (TASK_INTERRUPTIBLE...) */
	__u32 waker_tid; /* WAKEUP: current thread, 0 when not the target's */
	__u32 pad;
	char comm[TASK_COMM_LEN];
};

/* Per-CPU counters of the off-CPU collector, indexed by enum offcpu_counter. */
enum offcpu_counter {
	OFFCPU_COUNTER_WAITS,      /* waits timed */
	OFFCPU_COUNTER_RECORDED,   /* waits sent to user space */
	OFFCPU_COUNTER_LOST,       /* dropped: ring buffer full */
	OFFCPU_COUNTER_SCHED_LOST, /* timeline events dropped */
	/* recorded without the user stack: the wait did not end in a probed
	 * system call (a page fault, or a call not in block_syscalls) */
	OFFCPU_COUNTER_NO_SYSCALL_EXIT,
	OFFCPU_COUNTER_MAX,
};

/*
 * Lock contention (mutex profile), from futex waits: as in Go, a waiter's
 * delay is charged to the stack that released the lock (the waker).  A
 * thread calling a futex wake while the futex has waiters sends a
 * LOCK_WAKE with its stack; a waiter woken from it sends a LOCK_WAITED with
 * the wake's sequence number and its delay (sampled as block waits are).
 */
enum lock_event_kind { LOCK_WAKE = 1, LOCK_WAITED = 2 };

struct lock_waited {
	__u32 kind;           /* LOCK_WAITED */
	__u32 tid;            /* the waiter */
	__u64 wake_seq;       /* the wake that ended it, 0 when none was seen */
	__u64 delay_ns;       /* sampled as struct block_event's */
	__u64 count_x1000;
};

struct lock_wake {           /* sent packed (no kernel_pcs) */
	__u32 kind;           /* LOCK_WAKE */
	__u32 tid;            /* the waker */
	__u64 wake_seq;
	char comm[TASK_COMM_LEN];
	struct user_stack_copy user;
};

enum lock_counter {
	LOCK_COUNTER_WAITS,   /* futex waits ended by a wake */
	LOCK_COUNTER_WAKES,   /* wakes of futexes with waiters, stacks sent */
	LOCK_COUNTER_LOST,    /* events dropped: ring buffer full */
	LOCK_COUNTER_MAX,
};

#endif /* PPROFD_BPF_H */
