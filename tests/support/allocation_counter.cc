// allocation_counter.cc: the counting global operator new/delete behind AllocationCounter.
#include "support/allocation_counter.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};

}  // namespace

// Out of line, so that GCC does not pair an inlined free() with operator new and warn.
[[gnu::noinline]] void* operator new(std::size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace switchyard::test {

AllocationCounter::AllocationCounter() {
  g_allocations = 0;
  g_counting = true;
}

AllocationCounter::~AllocationCounter() {
  if (running_) stop();
}

long AllocationCounter::stop() {
  g_counting = false;
  running_ = false;
  return g_allocations.load();
}

}  // namespace switchyard::test
