// call_lanes.h: the few persistent threads on which a Dispatcher runs the handler calls of one
// batch at once (one call per lane; lane 0 is the calling worker thread itself).
#ifndef SWITCHYARD_DISPATCH_CALL_LANES_H_
#define SWITCHYARD_DISPATCH_CALL_LANES_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace switchyard {

// Thread safety: run() and threads() from one thread only (the owning worker); the lane threads
// it starts inherit that thread's signal mask, and live until the CallLanes is destroyed.
class CallLanes {
 public:
  CallLanes() = default;
  // Stops and joins the lane threads (none is in a task then: run() returns only after all are).
  ~CallLanes();
  CallLanes(const CallLanes&) = delete;
  CallLanes& operator=(const CallLanes&) = delete;

  // Runs task(0) on the calling thread and task(1) .. task(n - 1) each on its own lane thread
  // (lane i always on the same thread, started the first time it is needed), all at once, and
  // returns when every one has returned. task must not throw: catch inside it and pass the
  // error on by what it writes. n of 0 or 1: runs on the calling thread only, starts nothing.
  void run(size_t n, const std::function<void(size_t lane)>& task);
  // Lane threads started so far (not counting the calling thread).
  size_t threads() const { return threads_.size(); }

 private:
  void lane_main(size_t lane, uint64_t round);

  std::mutex mutex_;
  std::condition_variable start_;     // a new round, or stopping
  std::condition_variable finished_;  // the last lane of a round returned
  const std::function<void(size_t)>* task_ = nullptr;
  size_t lanes_wanted_ = 0;  // lanes 1 .. lanes_wanted_ - 1 run task_ this round
  size_t running_ = 0;       // lanes of this round that have not returned yet
  uint64_t round_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;  // threads_[i] runs lane i + 1
};

}  // namespace switchyard

#endif  // SWITCHYARD_DISPATCH_CALL_LANES_H_
