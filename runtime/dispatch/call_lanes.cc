// call_lanes.cc: persistent lane threads, woken per round by a condition variable.
#include "dispatch/call_lanes.h"

#include <pthread.h>

#include <string>

namespace switchyard {

CallLanes::~CallLanes() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  start_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void CallLanes::run(size_t n, const std::function<void(size_t lane)>& task) {
  if (n <= 1) {
    if (n == 1) task(0);
    return;
  }
  while (threads_.size() < n - 1) {
    const size_t lane = threads_.size() + 1;
    threads_.emplace_back(&CallLanes::lane_main, this, lane, round_);
    // Named after the worker thread that owns it, so `top -H` shows whose calls it runs.
    char name[16] = {0};
    if (pthread_getname_np(pthread_self(), name, sizeof(name)) == 0) {
      std::string lane_name = std::string(name).substr(0, 11) + "/" + std::to_string(lane);
      pthread_setname_np(threads_.back().native_handle(), lane_name.substr(0, 15).c_str());
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = &task;
    lanes_wanted_ = n;
    running_ = n - 1;
    ++round_;
  }
  start_.notify_all();
  task(0);
  std::unique_lock<std::mutex> lock(mutex_);
  finished_.wait(lock, [this] { return running_ == 0; });
  task_ = nullptr;
}

void CallLanes::lane_main(size_t lane, uint64_t round) {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    start_.wait(lock, [&] { return stopping_ || round_ != round; });
    if (stopping_) return;
    round = round_;
    if (lane >= lanes_wanted_) continue;
    const std::function<void(size_t)>* task = task_;
    lock.unlock();
    (*task)(lane);
    lock.lock();
    if (--running_ == 0) finished_.notify_one();
  }
}

}  // namespace switchyard
