// SPDX-License-Identifier: MIT
/*
 * cxx.cc - a C++ workload for symbolization tests: demangled names, and an
 * inline frame.
 *
 * One thread, until killed, taking turns (~5 ms of thread CPU time each,
 * measured, so the split holds on a busy machine) between:
 *   ns::Widget::spin(int)                 a class method in a namespace
 *   ns::accumulate<unsigned int>(...)     a function template instance
 *   ns::hash_block(...)                   noinline; its work is done in
 *     ns::mix_inline(unsigned int)        always_inline into hash_block
 * Expected: the profile names them demangled (with "::", no "_Z..."), and
 * samples in hash_block have a Location with two lines:
 * ns::mix_inline(unsigned int) (inlined) then ns::hash_block(...).
 */
#include <cstddef>
#include <ctime>

#define NOINLINE __attribute__((noinline))
#define ALWAYS_INLINE inline __attribute__((always_inline))

static volatile unsigned sink;

namespace ns {

class Widget {
public:
	explicit Widget(unsigned seed) : state_(seed) {}
	NOINLINE unsigned spin(int rounds);

private:
	unsigned state_;
};

unsigned Widget::spin(int rounds)
{
	unsigned x = state_;

	for (int i = 0; i < rounds; i++) {
		x = x * 1103515245u + 12345u;
		x ^= x >> 7;
		/* Keeps the loop a loop. */
		asm volatile("" : "+r"(x));
	}
	state_ = x;
	return x;
}

template <typename T> NOINLINE T accumulate(const T *v, std::size_t n, int rounds)
{
	T acc = 0;

	for (int r = 0; r < rounds; r++)
		for (std::size_t i = 0; i < n; i++) {
			acc = acc * 31 + v[i];
			asm volatile("" : "+r"(acc));
		}
	return acc;
}

/*
 * All of hash_block's work happens in here, inlined into it.  Not static: like
 * an inline function from a header, it has a linkage name in the DWARF
 * (_ZN2ns10mix_inlineEj), so its inline frame can be named
 * ns::mix_inline(unsigned int).  (A static one has only DW_AT_name
 * "mix_inline", which is what addr2line and eu-addr2line show too.)
 */
ALWAYS_INLINE unsigned mix_inline(unsigned x)
{
	for (int i = 0; i < 64; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		asm volatile("" : "+r"(x));
	}
	return x;
}

NOINLINE unsigned hash_block(const unsigned *v, std::size_t n)
{
	unsigned h = 2166136261u;

	for (std::size_t i = 0; i < n; i++)
		h = mix_inline(h ^ v[i]);
	return h;
}

} // namespace ns

static double thread_cpu_ms()
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main()
{
	static unsigned data[256];
	ns::Widget widget(42);

	for (unsigned i = 0; i < sizeof(data) / sizeof(data[0]); i++)
		data[i] = i * 2654435761u;
	for (;;) {
		double t0 = thread_cpu_ms();

		while (thread_cpu_ms() - t0 < 5)
			sink = sink + widget.spin(20000);
		t0 = thread_cpu_ms();
		while (thread_cpu_ms() - t0 < 5)
			sink = sink + ns::accumulate<unsigned>(data, 256, 80);
		t0 = thread_cpu_ms();
		while (thread_cpu_ms() - t0 < 5)
			sink = sink + ns::hash_block(data, 256);
	}
	return 0;
}
