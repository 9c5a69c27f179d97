// TAILOR_AVX2_CLONES: compile a function twice, for AVX2 and for any x86-64, and pick one at load
// time (an ifunc). Not under ThreadSanitizer: the instrumented ifunc resolver runs during
// relocation, before TSan's runtime exists, and crashes the program before main.
#ifndef TAILOR_CORE_CPU_DISPATCH_H_
#define TAILOR_CORE_CPU_DISPATCH_H_

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TAILOR_UNDER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define TAILOR_UNDER_TSAN 1
#endif

#if defined(TAILOR_UNDER_TSAN)
#define TAILOR_AVX2_CLONES
#else
#define TAILOR_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#endif

#endif  // TAILOR_CORE_CPU_DISPATCH_H_
