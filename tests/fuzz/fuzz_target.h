// fuzz_target.h: declares a fuzz entry point as libFuzzer's LLVMFuzzerTestOneInput, or, for the
// corpus replay test (SWITCHYARD_FUZZ_REPLAY), as a plain function named after the target, so that
// the three targets link into one test binary built by any compiler.
#ifndef SWITCHYARD_TESTS_FUZZ_FUZZ_TARGET_H_
#define SWITCHYARD_TESTS_FUZZ_FUZZ_TARGET_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#ifdef SWITCHYARD_FUZZ_REPLAY
#define SWITCHYARD_FUZZ_TARGET(name) int switchyard_fuzz_##name(const uint8_t* data, size_t size)
#else
#define SWITCHYARD_FUZZ_TARGET(name) \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
#endif

// An invariant every input must keep; a violation aborts, which libFuzzer reports as a crash
// (and the replay test as a death of the test binary). Active in release builds too.
#define FUZZ_CHECK(condition, what)                                                              \
  do {                                                                                           \
    if (!(condition)) {                                                                          \
      std::fprintf(stderr, "%s:%d: invariant failed: %s (%s)\n", __FILE__, __LINE__, #condition, \
                   what);                                                                        \
      std::abort();                                                                              \
    }                                                                                            \
  } while (0)

#endif  // SWITCHYARD_TESTS_FUZZ_FUZZ_TARGET_H_
