// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/epoll_backend.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <system_error>

#include "absl/cleanup/cleanup.h"
#include "runtime/errors.h"
#include "runtime/lowlevel.h"

namespace trio {

namespace {
[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}
}  // namespace

EpollBackend::~EpollBackend() {
  if (const int fd = wakeup_fd_.load(std::memory_order_relaxed); fd >= 0) ::close(fd);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void EpollBackend::ensure_epoll() {
  if (epoll_fd_ >= 0) return;
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw_errno("epoll_create1");
}

void EpollBackend::enable_wakeups() {
  enable_interrupt_wakeups();
  token_wakeups_ = true;
}

void EpollBackend::enable_interrupt_wakeups() {
  if (wakeup_fd_.load(std::memory_order_relaxed) >= 0) return;
  ensure_epoll();
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw_errno("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
    ::close(fd);
    throw_errno("epoll_ctl(eventfd)");
  }
  wakeup_fd_.store(fd, std::memory_order_release);
}

void EpollBackend::wake() noexcept {
  const int fd = wakeup_fd_.load(std::memory_order_acquire);
  if (fd < 0) return;
  const uint64_t one = 1;
  ssize_t n = ::write(fd, &one, sizeof one);
  (void)n;  // EAGAIN means the counter is already non-zero: the loop will wake anyway.
}

EpollBackend::FdState& EpollBackend::state(int fd) {
  if (fd < 0) throw std::system_error(EBADF, std::generic_category(), "invalid file descriptor");
  if (static_cast<size_t>(fd) >= fds_.size()) fds_.resize(static_cast<size_t>(fd) + 1);
  return fds_[static_cast<size_t>(fd)];
}

void EpollBackend::update_interest(int fd) {
  FdState& s = fds_[static_cast<size_t>(fd)];
  const uint32_t wanted = (s.reader ? EPOLLIN : 0u) | (s.writer ? EPOLLOUT : 0u);
  if (wanted == s.registered) return;
  epoll_event ev{};
  ev.events = wanted;
  ev.data.fd = fd;
  int rc;
  if (wanted == 0) {
    rc = ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, &ev);
    if (rc < 0 && (errno == EBADF || errno == ENOENT)) rc = 0;  // already closed
  } else if (s.registered == 0) {
    rc = ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    if (rc < 0 && errno == EEXIST) rc = ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
  } else {
    rc = ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
    if (rc < 0 && errno == ENOENT) rc = ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
  if (rc < 0) throw_errno("epoll_ctl");
  s.registered = wanted;
}

void EpollBackend::register_waiter(int fd, IoDirection direction, internal::TaskRec* task) {
  ensure_epoll();
  FdState& s = state(fd);
  internal::TaskRec*& slot = direction == IoDirection::kRead ? s.reader : s.writer;
  if (slot)
    throw BusyResourceError(direction == IoDirection::kRead
                                ? "another task is already reading this fd"
                                : "another task is already writing this fd");
  slot = task;
  absl::Cleanup unregister = [&slot] { slot = nullptr; };  // if update_interest throws
  update_interest(fd);
  std::move(unregister).Cancel();
  ++waiters_;
  ++(direction == IoDirection::kRead ? readers_ : writers_);
}

void EpollBackend::unregister_waiter(int fd, IoDirection direction) {
  if (fd < 0 || static_cast<size_t>(fd) >= fds_.size()) return;
  FdState& s = fds_[static_cast<size_t>(fd)];
  internal::TaskRec*& slot = direction == IoDirection::kRead ? s.reader : s.writer;
  if (!slot) return;
  slot = nullptr;
  --waiters_;
  --(direction == IoDirection::kRead ? readers_ : writers_);
  update_interest(fd);
}

void EpollBackend::notify_closing(int fd) {
  if (fd < 0 || static_cast<size_t>(fd) >= fds_.size()) return;
  FdState& s = fds_[static_cast<size_t>(fd)];
  internal::TaskRec* reader = s.reader;
  internal::TaskRec* writer = s.writer;
  if (reader) unregister_waiter(fd, IoDirection::kRead);
  if (writer) unregister_waiter(fd, IoDirection::kWrite);
  const char* msg = "another task closed this fd";
  if (reader) lowlevel::reschedule(*reader, std::make_exception_ptr(ClosedResourceError(msg)));
  if (writer) lowlevel::reschedule(*writer, std::make_exception_ptr(ClosedResourceError(msg)));
}

bool EpollBackend::wait_for_events(Duration timeout) {
  if (epoll_fd_ < 0) {
    // Nothing registered and no wake-ups possible: just let the time pass.
    if (timeout > Duration(0) && timeout != kInfDuration) {
      timespec ts{static_cast<time_t>(timeout.count() / 1000000000),
                  static_cast<long>(timeout.count() % 1000000000)};
      while (::nanosleep(&ts, &ts) < 0 && errno == EINTR) {
      }
    }
    return false;
  }
  int timeout_ms;
  if (timeout == kInfDuration) {
    timeout_ms = -1;
  } else {
    // Round up so that a deadline is never reported early.
    const int64_t ms = (timeout.count() + 999999) / 1000000;
    timeout_ms = ms > 86400000 ? 86400000 : static_cast<int>(ms);
  }
  epoll_event events[kMaxEventsPerWait];
  int n;
  do {
    n = ::epoll_wait(epoll_fd_, events, kMaxEventsPerWait, timeout_ms);
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw_errno("epoll_wait");
  bool any = false;
  for (int i = 0; i < n; ++i) {
    const int fd = events[i].data.fd;
    any = true;
    if (fd == wakeup_fd_.load(std::memory_order_relaxed)) {
      uint64_t value;
      ssize_t r = ::read(fd, &value, sizeof value);
      (void)r;
      continue;
    }
    if (static_cast<size_t>(fd) >= fds_.size()) continue;
    FdState& s = fds_[static_cast<size_t>(fd)];
    const uint32_t ev = events[i].events;
    const bool err = ev & (EPOLLERR | EPOLLHUP);
    internal::TaskRec* reader = (ev & EPOLLIN) || err ? s.reader : nullptr;
    internal::TaskRec* writer = (ev & EPOLLOUT) || err ? s.writer : nullptr;
    if (reader) unregister_waiter(fd, IoDirection::kRead);
    if (writer) unregister_waiter(fd, IoDirection::kWrite);
    if (reader) lowlevel::reschedule(*reader);
    if (writer) lowlevel::reschedule(*writer);
  }
  return any;
}

IoStatistics EpollBackend::statistics() const { return {"epoll", readers_, writers_}; }

}  // namespace trio
