// SPDX-License-Identifier: Apache-2.0 OR MIT
#include "runtime/threads.h"

#include <memory>
#include <mutex>
#include <utility>

#include "runtime/internal/thread_cache.h"
#include "runtime/nursery.h"
#include "runtime/run_options.h"

namespace trio {

namespace from_thread::detail {
// A call from a worker thread into the run. Lives on the worker's stack while the worker waits.
struct Request {
  absl::AnyInvocable<Task<>()> async_call;  // exactly one of the two is set
  absl::AnyInvocable<void()> sync_call;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;  // guarded by mu

  // On the run's thread, last touch of the request: the worker may free it right after.
  void finish() {
    std::lock_guard lock(mu);
    done = true;
    cv.notify_all();
  }
  void wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done; });
  }
};
}  // namespace from_thread::detail

namespace {

using from_thread::detail::Request;
using to_thread::detail::ThreadJob;

// The job whose function this worker thread is running (null elsewhere).
thread_local ThreadJob* tls_job = nullptr;

// Per run: the default limiter and the count of threads not yet delivered.
struct RunThreads {
  CapacityLimiter default_limiter{40, "to_thread default limiter"};
  size_t active = 0;
  lowlevel::ParkingLot idle{"wait_all_threads_completed"};
};

lowlevel::RunVar<std::shared_ptr<RunThreads>> run_threads_var("trio.to_thread", nullptr);

std::shared_ptr<RunThreads>& run_threads_ptr() {
  std::shared_ptr<RunThreads>& p = run_threads_var.get();
  if (!p) p = std::make_shared<RunThreads>();
  return p;
}

RunThreads& run_threads() { return *run_threads_ptr(); }

// On the run's thread, once the worker is done: return the token, count it, wake the host.
void finish_job(ThreadJob& job, RunThreads& threads) {
  job.limiter->release_on_behalf_of(&job);
  job.finished = true;
  if (--threads.active == 0) threads.idle.unpark_all();
  if (lowlevel::TaskRecord* host = std::exchange(job.host, nullptr)) lowlevel::reschedule(*host);
}

// Runs a request in the current task (the host, or a system task) and replies to the worker.
Task<> serve(Request& request) {
  if (request.sync_call) {
    request.sync_call();
  } else {
    co_await request.async_call();
  }
  request.finish();
}

Task<> wait_real(ThreadJob& job, bool abandon_on_cancel) {
  for (;;) {
    co_await lowlevel::wait_task_rescheduled([&](lowlevel::RaiseCancel raise) {
      {
        std::lock_guard lock(job.mu);
        job.cancel = raise();
      }
      job.cancel_requested.store(true, std::memory_order_release);
      if (!abandon_on_cancel) return lowlevel::Abort::kFailed;
      job.host = nullptr;  // the result will be dropped
      return lowlevel::Abort::kSucceeded;
    });
    if (job.finished) co_return;
    Request* request;
    {
      std::lock_guard lock(job.mu);
      request = std::exchange(job.request, nullptr);
    }
    co_await serve(*request);
  }
}

Task<> wait_lockstep(ThreadJob& job, RunThreads& threads) {
  for (;;) {
    Request* request = nullptr;
    {
      // The run's thread waits here, inside the calling task's step: nothing else runs, so the
      // schedule does not depend on how long the thread takes.
      std::unique_lock lock(job.mu);
      job.cv.wait(lock, [&] { return job.worker_done || job.request != nullptr; });
      request = std::exchange(job.request, nullptr);
    }
    if (!request) {
      job.host = nullptr;  // not blocked: nothing to reschedule
      finish_job(job, threads);
      co_await cancel_shielded_checkpoint();  // deliver at a point the scheduler picks
      co_return;
    }
    co_await serve(*request);
  }
}

}  // namespace

namespace lowlevel {

void start_thread_soon(absl::AnyInvocable<void() &&> fn, std::string name) {
  internal::start_worker_job(std::move(fn), std::move(name));
}

size_t active_thread_count() { return run_threads().active; }

Task<> wait_all_threads_completed() {
  RunThreads& threads = run_threads();
  if (threads.active == 0) {
    co_await checkpoint();
    co_return;
  }
  co_await threads.idle.park("wait_all_threads_completed");
}

void drain_thread_cache() { internal::drain_thread_cache(); }

}  // namespace lowlevel

namespace to_thread {

CapacityLimiter& current_default_thread_limiter() { return run_threads().default_limiter; }

namespace detail {

Task<> run_job(const std::shared_ptr<ThreadJob>& job, const Options& options) {
  co_await checkpoint_if_cancelled();
  RunThreads& threads = run_threads();
  std::shared_ptr<RunThreads> keep = run_threads_ptr();
  CapacityLimiter& limiter = options.limiter ? *options.limiter : threads.default_limiter;
  co_await limiter.acquire_on_behalf_of(job.get());
  job->limiter = &limiter;
  job->lockstep = lowlevel::current_run_options().threads == ThreadMode::kLockstep;
  // A lockstep run needs no token: nothing comes back through the callback queue (and a token
  // would keep the run from ever being reported as deadlocked).
  if (!job->lockstep) job->token = lowlevel::current_trio_token();
  job->host = &lowlevel::current_task();
  ++threads.active;
  try {
    internal::start_worker_job(
        [job, keep]() mutable {
          tls_job = job.get();
          job->call();
          tls_job = nullptr;
          if (job->lockstep) {
            std::lock_guard lock(job->mu);
            job->worker_done = true;
            job->cv.notify_all();
            return;
          }
          const lowlevel::TrioToken token = *job->token;
          try {
            token.run_sync_soon([job, keep]() { finish_job(*job, *keep); });
          } catch (const RunFinishedError&) {
            // The run is over: nobody waits for the result.
          }
        },
        options.thread_name ? options.thread_name : "");
  } catch (...) {
    limiter.release_on_behalf_of(job.get());
    --threads.active;
    job->host = nullptr;
    throw;
  }
  if (job->lockstep) {
    co_await wait_lockstep(*job, threads);
  } else {
    co_await wait_real(*job, options.abandon_on_cancel);
  }
}

}  // namespace detail
}  // namespace to_thread

namespace from_thread {

namespace detail {

void call_in_run(absl::AnyInvocable<Task<>()> async_call, absl::AnyInvocable<void()> sync_call,
                 const lowlevel::TrioToken* token) {
  if (lowlevel::in_trio_run())
    throw RuntimeError("this is a blocking function; call it from a thread");
  ThreadJob* job = tls_job;
  if (!token && !job)
    throw RuntimeError(
        "this thread wasn't created by Trio: pass the run's TrioToken "
        "(trio::lowlevel::current_trio_token())");
  Request request;
  request.async_call = std::move(async_call);
  request.sync_call = std::move(sync_call);
  const bool ours = job && (!token || !job->token || *token == *job->token);
  if (ours && job->lockstep) {
    {
      std::lock_guard lock(job->mu);
      job->request = &request;
      job->cv.notify_all();
    }
    request.wait();
    return;
  }
  const lowlevel::TrioToken run_token = token ? *token : *job->token;
  Request* r = &request;
  if (r->sync_call) {
    run_token.run_sync_soon([r] {
      r->sync_call();
      r->finish();
    });
  } else if (ours && !token) {
    // To the task waiting for this thread, so the call runs under its cancel scopes; if it
    // stopped waiting (abandoned), as a system task.
    run_token.run_sync_soon([r, job] {
      if (job->host) {
        {
          std::lock_guard lock(job->mu);
          job->request = r;
        }
        lowlevel::reschedule(*job->host);
      } else {
        lowlevel::spawn_system_task([r]() -> Task<> { co_await serve(*r); });
      }
    });
  } else {
    run_token.run_sync_soon(
        [r] { lowlevel::spawn_system_task([r]() -> Task<> { co_await serve(*r); }); });
  }
  request.wait();
}

}  // namespace detail

void check_cancelled() {
  ThreadJob* job = tls_job;
  if (!job)
    throw RuntimeError(
        "check_cancelled: call it from a thread started by trio::to_thread::run_sync");
  if (!job->cancel_requested.load(std::memory_order_acquire)) return;
  std::exception_ptr e;
  {
    std::lock_guard lock(job->mu);
    e = job->cancel;
  }
  std::rethrow_exception(e);
}

}  // namespace from_thread

}  // namespace trio
