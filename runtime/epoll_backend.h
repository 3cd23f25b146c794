// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// `EpollBackend`: the production I/O backend (Linux epoll, level-triggered).
//
// The epoll instance and the wake-up eventfd are created lazily — on the first fd registration,
// the first TrioToken, or the first wait that must block — so a run that never touches I/O makes
// no I/O syscalls, and a batch with nothing registered makes none either.
//
// Each fd has at most one reading and one writing waiter. When epoll reports readiness (or an
// error/hang-up, which wakes both directions) the waiter is rescheduled and its registration
// dropped; epoll interest is kept in sync with the remaining waiters.
#ifndef TRIO_RUNTIME_EPOLL_BACKEND_H_
#define TRIO_RUNTIME_EPOLL_BACKEND_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "runtime/io_backend.h"

namespace trio {

class EpollBackend final : public IoBackend {
 public:
  // Events read per epoll_wait call.
  static constexpr int kMaxEventsPerWait = 256;

  EpollBackend() = default;
  ~EpollBackend() override;
  EpollBackend(const EpollBackend&) = delete;
  EpollBackend& operator=(const EpollBackend&) = delete;

  bool wait_for_events(Duration timeout) override;
  bool may_produce_events() const override { return waiters_ > 0 || token_wakeups_; }
  void enable_wakeups() override;
  void enable_interrupt_wakeups() override;
  void wake() noexcept override;
  void register_waiter(int fd, IoDirection direction, internal::TaskRec* task) override;
  void unregister_waiter(int fd, IoDirection direction) override;
  void notify_closing(int fd) override;
  IoStatistics statistics() const override;

 private:
  struct FdState {
    internal::TaskRec* reader = nullptr;
    internal::TaskRec* writer = nullptr;
    uint32_t registered = 0;  // events currently in the epoll interest list (0 = not added)
  };
  void ensure_epoll();
  void update_interest(int fd);
  FdState& state(int fd);

  int epoll_fd_ = -1;
  std::atomic<int> wakeup_fd_{-1};  // read by wake(), from any thread or a signal handler
  bool token_wakeups_ = false;      // enable_wakeups() was called (a TrioToken exists)
  std::vector<FdState> fds_;
  size_t readers_ = 0;
  size_t writers_ = 0;
};

}  // namespace trio

#endif  // TRIO_RUNTIME_EPOLL_BACKEND_H_
