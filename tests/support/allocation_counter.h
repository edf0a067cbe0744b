// allocation_counter.h: counts heap allocations, to prove a hot path allocates nothing (test kit).
#ifndef SWITCHYARD_TESTS_SUPPORT_ALLOCATION_COUNTER_H_
#define SWITCHYARD_TESTS_SUPPORT_ALLOCATION_COUNTER_H_

namespace switchyard::test {

// Counts every global operator new (any thread) from construction until stop(). Using it links
// allocation_counter.cc into the test binary, which replaces the global operator new and delete
// with malloc/free-based ones that count while a counter runs.
// Thread safety: one AllocationCounter at a time per process; count() and stop() from its thread.
class AllocationCounter {
 public:
  // Starts counting from 0.
  AllocationCounter();
  // Stops counting if stop() was not called.
  ~AllocationCounter();
  AllocationCounter(const AllocationCounter&) = delete;
  AllocationCounter& operator=(const AllocationCounter&) = delete;

  // Stops counting and returns the allocations counted (call it before asserting: a failing
  // assertion allocates).
  long stop();

 private:
  bool running_ = true;
};

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_ALLOCATION_COUNTER_H_
