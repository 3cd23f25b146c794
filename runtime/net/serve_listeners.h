// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// `serve_listeners`: the accept loop of a server (Trio's `trio.serve_listeners`,
// `_highlevel_serve_listeners.py`). One task per listener accepts connections; each connection
// runs `handler(stream)` as its own task in the handler nursery, and the stream is closed
// (aclose_forcefully) when the handler returns or raises. Generic over any listener type
// L : Listener<S> (SocketListener for TCP).
//
// Example (with Nursery::start, to learn the port):
//   auto listeners = co_await trio::open_tcp_listeners(0, "127.0.0.1");
//   auto echo = [](trio::SocketStream& s) -> trio::Task<> { ... };
//   std::vector<trio::SocketListener*> ls = co_await
//   nursery.start<std::vector<trio::SocketListener*>>(
//       trio::serve_listeners, echo, std::move(listeners), nullptr);
//
// Contract:
//   * `handler` is copied into each connection's task; it is called as `handler(S&)` and returns
//     a Task<>. An error from a handler propagates into the handler nursery (as in Trio: it
//     brings the server down, unless the handler nursery's owner deals with it).
//   * `handler_nursery` null = a nursery of serve_listeners' own; else connections run there
//     (and may outlive serve_listeners).
//   * Running out of resources on accept (std::system_error EMFILE, ENFILE, ENOMEM, ENOBUFS) is
//     logged (one line on stderr) and retried after kAcceptCapacityRetryDelay; any other accept
//     error propagates and ends serve_listeners.
//   * serve_listeners owns the listeners, and closes each when its accept loop ends. With a
//     TaskStatus it reports `started(pointers to the listeners)` once every accept task runs;
//     the pointers are valid while serve_listeners runs.
//   * It never returns normally: it runs until cancelled or an error.
//
// Checkpoints: blocks (cancellable) forever.
#ifndef TRIO_RUNTIME_NET_SERVE_LISTENERS_H_
#define TRIO_RUNTIME_NET_SERVE_LISTENERS_H_

#include <chrono>
#include <exception>
#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/lowlevel.h"
#include "runtime/net/stream.h"
#include "runtime/nursery.h"
#include "runtime/sleep.h"
#include "runtime/task.h"

namespace trio {

// How long serve_listeners waits before accepting again after EMFILE and the like.
inline constexpr Duration kAcceptCapacityRetryDelay = std::chrono::milliseconds(100);

namespace net_internal {

// EMFILE, ENFILE, ENOMEM, ENOBUFS: out of a resource that closing connections frees.
bool is_accept_capacity_errno(int error);
// "serve_listeners: accept returned EMFILE (Too many open files); retrying in 0.1 seconds".
void log_accept_capacity_error(const std::system_error& error);

// The stream type a listener type accepts.
template <class L>
using AcceptedStream =
    typename std::remove_cvref_t<decltype(std::declval<L&>().accept())>::value_type::element_type;

template <class S, class Handler>
Task<> run_handler(std::unique_ptr<S> stream, Handler handler) {
  std::exception_ptr error;
  try {
    co_await handler(*stream);
  } catch (...) {
    error = std::current_exception();  // no co_await in a handler: close first, then rethrow
  }
  co_await aclose_forcefully(*stream);
  if (error) std::rethrow_exception(error);
}

template <class L, class Handler>
Task<> serve_one_listener(L* listener, Nursery* handler_nursery, Handler handler) {
  using S = AcceptedStream<L>;
  std::exception_ptr error;
  try {
    while (true) {
      std::unique_ptr<S> stream;
      try {
        stream = co_await listener->accept();
      } catch (const std::system_error& e) {
        if (!is_accept_capacity_errno(e.code().value())) throw;
        log_accept_capacity_error(e);
      }
      if (stream) {
        handler_nursery->start_soon(run_handler<S, Handler>, std::move(stream), handler);
      } else {
        co_await sleep(kAcceptCapacityRetryDelay);
      }
    }
  } catch (...) {
    error = std::current_exception();
  }
  // Trio's `async with listener`: closed however the loop ended. The loop's error is what
  // propagates; an error of aclose() itself (its Cancelled, when the loop's was one too) is
  // dropped in its favour.
  try {
    co_await listener->aclose();
  } catch (...) {
  }
  std::rethrow_exception(error);
}

template <class L, class Handler>
Task<> serve_listeners_impl(Handler handler, std::vector<std::unique_ptr<L>> listeners,
                            Nursery* handler_nursery, TaskStatus<std::vector<L*>>* status) {
  // `status` null: nobody waits for started(). (Not TaskStatus::ignored(): that one object is
  // shared by every caller on the thread, and two servers calling started() on it after their
  // checkpoints would look like one task calling it twice.)
  std::vector<L*> pointers;
  for (auto& l : listeners) pointers.push_back(l.get());
  co_await open_nursery([&](Nursery& nursery) -> Task<> {
    Nursery* connections = handler_nursery ? handler_nursery : &nursery;
    for (L* l : pointers)
      nursery.start_soon(serve_one_listener<L, Handler>, l, connections, handler);
    // The listeners queue connections already; one more checkpoint lets the accept tasks
    // start before we report success (as Trio).
    co_await checkpoint();
    if (status) status->started(pointers);
  });
}

// The function object behind trio::serve_listeners (an object, so it can be passed to
// Nursery::start without naming template arguments).
struct ServeListenersFn {
  template <class L, class Handler>
  Task<> operator()(Handler handler, std::vector<std::unique_ptr<L>> listeners,
                    Nursery* handler_nursery, TaskStatus<std::vector<L*>>& status) const {
    static_assert(std::is_base_of_v<Listener<AcceptedStream<L>>, L>,
                  "serve_listeners: L must derive from Listener<S>");
    return serve_listeners_impl<L, Handler>(std::move(handler), std::move(listeners),
                                            handler_nursery, &status);
  }
  template <class L, class Handler>
  Task<> operator()(Handler handler, std::vector<std::unique_ptr<L>> listeners,
                    Nursery* handler_nursery = nullptr) const {
    return serve_listeners_impl<L, Handler>(std::move(handler), std::move(listeners),
                                            handler_nursery, nullptr);
  }
};

}  // namespace net_internal

// serve_listeners(handler, listeners, handler_nursery = nullptr[, task_status]): see above.
inline constexpr net_internal::ServeListenersFn serve_listeners{};

}  // namespace trio

#endif  // TRIO_RUNTIME_NET_SERVE_LISTENERS_H_
