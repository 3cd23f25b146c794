// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/internal/thread_cache.h"

#include <pthread.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace trio::internal {
namespace {

struct Worker {
  std::condition_variable wake;       // signalled when a job arrives or on drain
  absl::AnyInvocable<void() &&> job;  // Invariant: set only while has_job
  std::string name;
  bool has_job = false;
  bool exit = false;
};

class ThreadCache {
 public:
  void start(absl::AnyInvocable<void() &&> job, std::string name) {
    std::unique_lock lock(mu_);
    if (!idle_.empty()) {
      Worker* w = idle_.back();  // LIFO
      idle_.pop_back();
      w->job = std::move(job);
      w->name = std::move(name);
      w->has_job = true;
      w->wake.notify_one();
      return;
    }
    auto w = std::make_unique<Worker>();
    w->job = std::move(job);
    w->name = std::move(name);
    w->has_job = true;
    ++live_;
    lock.unlock();
    try {
      std::thread(&ThreadCache::worker_main, this, w.get()).detach();
      (void)w.release();  // the thread owns it now
    } catch (...) {
      lock.lock();
      --live_;
      drained_.notify_all();
      throw;
    }
  }

  void drain() {
    std::unique_lock lock(mu_);
    exiting_ += idle_.size();
    for (Worker* w : idle_) {
      w->exit = true;
      w->wake.notify_one();
    }
    idle_.clear();
    exiting_wait(lock);
  }

  ThreadCacheStatistics statistics() {
    std::lock_guard lock(mu_);
    return {live_, idle_.size()};
  }

 private:
  // Waits until every worker told to exit has exited.
  void exiting_wait(std::unique_lock<std::mutex>& lock) {
    drained_.wait(lock, [&] { return exiting_ == 0; });
  }

  void worker_main(Worker* raw) {
    std::unique_ptr<Worker> w(raw);
    std::unique_lock lock(mu_);
    for (;;) {
      // Invariant here: has_job (set by start before waking or creating us).
      absl::AnyInvocable<void()&&> job = std::move(w->job);
      w->has_job = false;
      const std::string name = std::move(w->name);
      lock.unlock();
      set_thread_name(name);
      std::move(job)();
      job = nullptr;  // destroy the job's captures outside the lock
      lock.lock();
      idle_.push_back(w.get());
      const bool woken =
          w->wake.wait_for(lock, kIdleWorkerTimeout, [&] { return w->has_job || w->exit; });
      if (w->has_job) continue;
      if (!woken) std::erase(idle_, w.get());  // timed out: still listed as idle
      --live_;
      if (w->exit) --exiting_;
      drained_.notify_all();
      return;
    }
  }

  static void set_thread_name(const std::string& name) {
    std::string n = name.empty() ? "trio-worker" : name.substr(0, 15);
    pthread_setname_np(pthread_self(), n.c_str());
  }

  std::mutex mu_;
  std::vector<Worker*> idle_;  // the idle workers, most recently idle last
  size_t live_ = 0;
  size_t exiting_ = 0;  // told to exit by drain() and not gone yet
  std::condition_variable drained_;
};

// Never destroyed: detached workers may still use it while static destructors run.
ThreadCache& cache() {
  static ThreadCache* c = new ThreadCache();
  return *c;
}

}  // namespace

void start_worker_job(absl::AnyInvocable<void() &&> job, std::string name) {
  cache().start(std::move(job), std::move(name));
}

void drain_thread_cache() { cache().drain(); }

ThreadCacheStatistics thread_cache_statistics() { return cache().statistics(); }

}  // namespace trio::internal
