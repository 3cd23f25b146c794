// SPDX-License-Identifier: Apache-2.0 OR MIT
// The epoll backend through trio::lowlevel::wait_readable / wait_writable (Trio's test_io.py):
// waits end when a real fd (pipe2, eventfd, socketpair) becomes ready, including on a write
// from another thread; one waiter per fd and direction (BusyResourceError); cancellation removes
// the registration; notify_closing wakes waiters with ClosedResourceError; bad fds raise; the
// I/O statistics count the waiters. Readiness is produced by the test itself (writes, reads,
// closes), never by waiting for time; wait_all_tasks_blocked() orders the steps.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "runtime/trio.h"

using trio::Task;
using trio::lowlevel::notify_closing;
using trio::lowlevel::wait_all_tasks_blocked;
using trio::lowlevel::wait_readable;
using trio::lowlevel::wait_writable;
using Record = std::vector<std::string>;

namespace {

// An fd pair closed at scope exit.
struct FdPair {
  int fds[2] = {-1, -1};
  ~FdPair() {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }
  int read_end() const { return fds[0]; }
  int write_end() const { return fds[1]; }
};

FdPair make_pipe() {
  FdPair p;
  EXPECT_EQ(::pipe2(p.fds, O_NONBLOCK | O_CLOEXEC), 0);
  return p;
}

FdPair make_socketpair() {
  FdPair p;
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p.fds), 0);
  return p;
}

// Writes until the (non-blocking) fd would block.
void fill(int fd) {
  std::vector<char> chunk(65536, 'x');
  while (::write(fd, chunk.data(), chunk.size()) > 0) {
  }
  EXPECT_EQ(errno, EAGAIN);
}

// Reads until the (non-blocking) fd would block.
void drain(int fd) {
  std::vector<char> buf(65536);
  while (::read(fd, buf.data(), buf.size()) > 0) {
  }
}

void write_byte(int fd) { EXPECT_EQ(::write(fd, "!", 1), 1); }

trio::IoStatistics io_stats() { return trio::lowlevel::current_statistics().io_statistics; }

trio::RunOptions options() { return trio::RunOptions{.seed = 5}; }

TEST(Epoll, WaitReadableEndsWhenAPipeGetsData) {
  FdPair p = make_pipe();
  Record record;
  trio::run(options(), [&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await wait_readable(p.read_end());
        record.push_back("readable");
      });
      co_await wait_all_tasks_blocked();
      EXPECT_TRUE(record.empty());
      EXPECT_EQ(io_stats().backend, "epoll");
      EXPECT_EQ(io_stats().tasks_waiting_read, 1u);
      write_byte(p.write_end());
    });
    EXPECT_EQ(io_stats().tasks_waiting_read, 0u);
  });
  EXPECT_EQ(record, (Record{"readable"}));
}

TEST(Epoll, WaitWritableBlocksWhileAPipeIsFullAndEndsWhenItDrains) {
  FdPair p = make_pipe();
  Record record;
  trio::run(options(), [&]() -> Task<> {
    co_await wait_writable(p.write_end());  // an empty pipe is writable at once
    fill(p.write_end());
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await wait_writable(p.write_end());
        record.push_back("writable");
      });
      co_await wait_all_tasks_blocked();
      EXPECT_TRUE(record.empty());
      EXPECT_EQ(io_stats().tasks_waiting_write, 1u);
      drain(p.read_end());
    });
  });
  EXPECT_EQ(record, (Record{"writable"}));
}

TEST(Epoll, ReadAndWriteWaitsOnOneEventfdAreIndependent) {
  const int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  Record record;
  trio::run(options(), [&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await wait_readable(efd);
        record.push_back("readable");
      });
      co_await wait_all_tasks_blocked();
      co_await wait_writable(efd);  // the counter is 0: writable, while the reader still waits
      record.push_back("writable");
      const uint64_t one = 1;
      EXPECT_EQ(::write(efd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
    });
  });
  ::close(efd);
  EXPECT_EQ(record, (Record{"writable", "readable"}));
}

TEST(Epoll, AWriteFromAnotherThreadWakesTheBlockedLoop) {
  const int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  uint64_t value = 0;
  trio::run(options(), [&]() -> Task<> {
    // Nothing is runnable and no deadline is pending: the loop sits in epoll_wait until the
    // other thread's write makes the fd readable.
    std::thread writer([efd] {
      const uint64_t seven = 7;
      EXPECT_EQ(::write(efd, &seven, sizeof seven), static_cast<ssize_t>(sizeof seven));
    });
    co_await wait_readable(efd);
    writer.join();
    EXPECT_EQ(::read(efd, &value, sizeof value), static_cast<ssize_t>(sizeof value));
  });
  ::close(efd);
  EXPECT_EQ(value, 7u);
}

TEST(Epoll, ASecondWaiterForTheSameFdAndDirectionIsBusyResourceError) {
  FdPair p = make_socketpair();
  Record record;
  trio::run(options(), [&]() -> Task<> {
    fill(p.read_end());  // so that a writer on this end blocks too
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> { co_await wait_readable(p.read_end()); });
      n.start_soon([&]() -> Task<> { co_await wait_writable(p.read_end()); });
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(io_stats().tasks_waiting_read, 1u);
      EXPECT_EQ(io_stats().tasks_waiting_write, 1u);
      try {
        co_await wait_readable(p.read_end());
      } catch (const trio::BusyResourceError& e) {
        record.push_back(e.what());
      }
      try {
        co_await wait_writable(p.read_end());
      } catch (const trio::BusyResourceError& e) {
        record.push_back(e.what());
      }
      // The failed attempts did not disturb the registered waiters.
      EXPECT_EQ(io_stats().tasks_waiting_read, 1u);
      EXPECT_EQ(io_stats().tasks_waiting_write, 1u);
      n.cancel_scope().cancel();
    });
  });
  EXPECT_EQ(record, (Record{"another task is already reading this fd",
                            "another task is already writing this fd"}));
}

TEST(Epoll, CancellingAWaitRemovesItsRegistration) {
  FdPair p = make_pipe();
  Record record;
  trio::run(options(), [&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      trio::CancelScope scope;
      n.start_soon([&]() -> Task<> {
        co_await scope.enter([&]() -> Task<> { co_await wait_readable(p.read_end()); });
        if (scope.cancelled_caught()) record.push_back("first cancelled");
      });
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(io_stats().tasks_waiting_read, 1u);
      scope.cancel();
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(io_stats().tasks_waiting_read, 0u);
      n.start_soon([&]() -> Task<> {
        co_await wait_readable(p.read_end());  // not busy: the old registration is gone
        record.push_back("second readable");
      });
      co_await wait_all_tasks_blocked();
      write_byte(p.write_end());
    });
  });
  EXPECT_EQ(record, (Record{"first cancelled", "second readable"}));
}

TEST(Epoll, AWaitInACancelledScopeRaisesCancelledAndLeavesNothingRegistered) {
  FdPair p = make_pipe();
  trio::run(options(), [&]() -> Task<> {
    write_byte(p.write_end());  // even a ready fd: the wait is a cancel point
    trio::CancelScope scope;
    scope.cancel();
    co_await scope.enter([&]() -> Task<> { co_await wait_readable(p.read_end()); });
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_EQ(io_stats().tasks_waiting_read, 0u);
    co_await wait_readable(p.read_end());  // and the fd can be waited on again
  });
}

TEST(Epoll, NotifyClosingWakesBothWaitersWithClosedResourceError) {
  FdPair p = make_socketpair();
  Record record;
  trio::run(options(), [&]() -> Task<> {
    fill(p.read_end());
    auto waiter = [&](bool read) -> Task<> {
      try {
        if (read)
          co_await wait_readable(p.read_end());
        else
          co_await wait_writable(p.read_end());
      } catch (const trio::ClosedResourceError& e) {
        record.push_back(std::string(read ? "reader: " : "writer: ") + e.what());
      }
    };
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon(waiter, true);
      n.start_soon(waiter, false);
      co_await wait_all_tasks_blocked();
      notify_closing(p.read_end());  // not a checkpoint; the waiters wake in the next batch
      EXPECT_EQ(io_stats().tasks_waiting_read, 0u);
      EXPECT_EQ(io_stats().tasks_waiting_write, 0u);
      ::close(p.fds[0]);
      p.fds[0] = -1;
    });
  });
  std::sort(record.begin(), record.end());
  EXPECT_EQ(record,
            (Record{"reader: another task closed this fd", "writer: another task closed this fd"}));
}

TEST(Epoll, NotifyClosingAnFdNobodyWaitsOnDoesNothing) {
  FdPair p = make_pipe();
  trio::run(options(), [&]() -> Task<> {
    notify_closing(p.read_end());
    notify_closing(12345);
    write_byte(p.write_end());
    co_await wait_readable(p.read_end());
  });
  EXPECT_THROW(notify_closing(p.read_end()), trio::RuntimeError);  // outside a run
}

TEST(Epoll, AHangUpWakesTheReader) {
  FdPair p = make_pipe();
  Record record;
  trio::run(options(), [&]() -> Task<> {
    co_await trio::open_nursery([&](trio::Nursery& n) -> Task<> {
      n.start_soon([&]() -> Task<> {
        co_await wait_readable(p.read_end());
        char c;
        record.push_back(::read(p.read_end(), &c, 1) == 0 ? "eof" : "data");
      });
      co_await wait_all_tasks_blocked();
      ::close(p.fds[1]);
      p.fds[1] = -1;
    });
  });
  EXPECT_EQ(record, (Record{"eof"}));
}

TEST(Epoll, AnInvalidFdRaisesAndRegistersNothing) {
  // A closed fd well above the ones the run itself opens (its epoll and wake-up fds).
  FdPair probe = make_pipe();
  const int closed_fd = ::fcntl(probe.read_end(), F_DUPFD_CLOEXEC, 900);
  ASSERT_GE(closed_fd, 900);
  ::close(closed_fd);
  int errors = 0;
  trio::run(options(), [&]() -> Task<> {
    for (int fd : {-1, closed_fd}) {
      try {
        co_await wait_readable(fd);
        ADD_FAILURE() << "waited on fd " << fd;
      } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EBADF) << fd;
        ++errors;
      }
    }
    EXPECT_EQ(io_stats().tasks_waiting_read, 0u);
    // The number can hold a real fd afterwards.
    EXPECT_EQ(::fcntl(probe.read_end(), F_DUPFD_CLOEXEC, closed_fd), closed_fd);
    write_byte(probe.write_end());
    co_await wait_readable(closed_fd);
    ::close(closed_fd);
  });
  EXPECT_EQ(errors, 2);
}

}  // namespace
