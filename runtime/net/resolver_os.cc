// SPDX-License-Identifier: Apache-2.0 OR MIT
//
// Name resolution (Trio's trio.socket.getaddrinfo / getnameinfo, trio/_socket.py): a numeric
// fast path done inline, then the run's HostnameResolver — a custom one (the RunVar, then
// RunOptions::hostname_resolver) or the OS's, which runs ::getaddrinfo in a worker thread.
//
// The worker thread is, for now, a plain detached std::thread per lookup (the to_thread
// machinery with its CapacityLimiter comes later). Cancelling the caller abandons the lookup
// (Trio's abandon_on_cancel=True): the task wakes with Cancelled at once, and the thread's
// result is dropped when it arrives. The thread and the task share only a reference-counted
// `Lookup`; the thread reports through TrioToken::run_sync_soon, so it never touches the run
// itself, and after the run has finished (RunFinishedError) it just drops the result.
#include <netdb.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runtime/errors.h"
#include "runtime/lowlevel.h"
#include "runtime/net/socket.h"

namespace trio::socket {
namespace {

constexpr int kNumericOnly = AI_NUMERICHOST | AI_NUMERICSERV;

lowlevel::RunVar<HostnameResolver*> custom_resolver("trio.socket.hostname_resolver", nullptr);

std::string gai_message(int code, const std::string& call, const std::string& what,
                        int saved_errno) {
  std::string text = code == EAI_SYSTEM ? std::strerror(saved_errno) : ::gai_strerror(code);
  return absl::StrCat(call, "(", what, "): ", text);
}

// The OS's answer for getaddrinfo, as a code and a list. Blocking; any thread.
struct GaiOutcome {
  int code = 0;
  int saved_errno = 0;
  std::vector<AddrInfo> results;
};

GaiOutcome os_getaddrinfo(const std::string& host, const std::string& port, int family, int type,
                          int protocol, int flags) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = type;
  hints.ai_protocol = protocol;
  hints.ai_flags = flags;
  addrinfo* list = nullptr;
  GaiOutcome out;
  // "" means no host (the wildcard with AI_PASSIVE, else loopback) and no service.
  out.code = ::getaddrinfo(host.empty() ? nullptr : host.c_str(),
                           port.empty() ? nullptr : port.c_str(), &hints, &list);
  out.saved_errno = errno;
  if (out.code != 0) return out;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    AddrInfo info;
    info.family = ai->ai_family;
    info.type = ai->ai_socktype;
    info.protocol = ai->ai_protocol;
    if (ai->ai_canonname) info.canonical_name = ai->ai_canonname;
    info.address = Address(ai->ai_addr, ai->ai_addrlen);
    out.results.push_back(std::move(info));
  }
  ::freeaddrinfo(list);
  return out;
}

struct NiOutcome {
  int code = 0;
  int saved_errno = 0;
  NameInfo info;
};

NiOutcome os_getnameinfo(const Address& address, int flags) {
  char host[NI_MAXHOST] = {};
  char service[NI_MAXSERV] = {};
  NiOutcome out;
  out.code = ::getnameinfo(address.sockaddr_ptr(), address.size(), host, sizeof host, service,
                           sizeof service, flags);
  out.saved_errno = errno;
  out.info = NameInfo{host, service};
  return out;
}

std::vector<AddrInfo> take_gai(GaiOutcome&& out, const std::string& host, const std::string& port) {
  if (out.code != 0)
    throw GaiError(out.code, gai_message(out.code, "getaddrinfo", absl::StrCat(host, ":", port),
                                         out.saved_errno));
  return std::move(out.results);
}

NameInfo take_ni(NiOutcome&& out, const Address& address) {
  if (out.code != 0)
    throw GaiError(out.code,
                   gai_message(out.code, "getnameinfo", address.to_string(), out.saved_errno));
  return std::move(out.info);
}

// Runs `work` (returning an Outcome) in a detached thread; the calling task blocks until the
// result is back, or is abandoned when cancelled.
template <class Outcome>
struct Lookup {
  // Written by the thread before run_sync_soon, read by the task after it was rescheduled:
  // the token's queue orders the two.
  Outcome outcome;
  // Run-thread only. Invariant: `task` is blocked waiting for this lookup unless `abandoned`.
  lowlevel::TaskRecord* task = nullptr;
  bool abandoned = false;
};

// `work` is borrowed (a named local of the caller, alive while it awaits): a closure passed by
// value in a co_await expression is what g++ 12 destroys twice (coroutine-pitfalls.md, row 2).
template <class Outcome, class Work>
Task<Outcome> in_worker_thread(const Work& work) {
  auto lookup = std::make_shared<Lookup<Outcome>>();
  lookup->task = &lowlevel::current_task();
  lowlevel::TrioToken token = lowlevel::current_trio_token();
  std::thread([lookup, token, work]() mutable {
    lookup->outcome = work();
    try {
      token.run_sync_soon([lookup] {
        if (!lookup->abandoned) lowlevel::reschedule(*lookup->task);
      });
    } catch (const RunFinishedError&) {
      // The run is over (the task was abandoned): nobody wants the result.
    }
  }).detach();
  Lookup<Outcome>* raw = lookup.get();  // trivially copyable capture (coroutine-pitfalls.md)
  auto abort = [raw](lowlevel::RaiseCancel) {
    raw->abandoned = true;
    return lowlevel::Abort::kSucceeded;
  };
  co_await lowlevel::wait_task_rescheduled(abort, "getaddrinfo (worker thread)");
  co_return std::move(lookup->outcome);
}

// The default resolver: the OS's, in a worker thread.
class OsHostnameResolver final : public HostnameResolver {
 public:
  Task<std::vector<AddrInfo>> getaddrinfo(std::string host, std::string port, int family, int type,
                                          int protocol, int flags) override {
    auto work = [host, port, family, type, protocol, flags] {
      return os_getaddrinfo(host, port, family, type, protocol, flags);
    };
    GaiOutcome out = co_await in_worker_thread<GaiOutcome>(work);
    co_return take_gai(std::move(out), host, port);
  }
  Task<NameInfo> getnameinfo(Address address, int flags) override {
    auto work = [address, flags] { return os_getnameinfo(address, flags); };
    NiOutcome out = co_await in_worker_thread<NiOutcome>(work);
    co_return take_ni(std::move(out), address);
  }
};

// Stateless: one per process.
OsHostnameResolver os_resolver;

HostnameResolver& run_resolver() {
  if (HostnameResolver* r = custom_resolver.get_or(nullptr)) return *r;
  if (HostnameResolver* r = lowlevel::current_run_options().hostname_resolver) return *r;
  return os_resolver;
}

Task<std::vector<AddrInfo>> getaddrinfo_impl(std::string host, std::string port, int family,
                                             int type, int protocol, int flags) {
  // The fast path: numeric host and port need no lookup (a checkpoint sandwich, as Trio's
  // _try_sync).
  co_await checkpoint_if_cancelled();
  GaiOutcome out = os_getaddrinfo(host, port, family, type, protocol, flags | kNumericOnly);
  if (out.code == 0) {
    co_await cancel_shielded_checkpoint();
    co_return std::move(out.results);
  }
  if (out.code != EAI_NONAME) take_gai(std::move(out), host, port);  // throws
  // A resolver never sees an empty host (the contract in socket.h); a service name with no
  // host is a local lookup (/etc/services), done by the OS in the worker thread.
  HostnameResolver& resolver = host.empty() ? os_resolver : run_resolver();
  co_return co_await resolver.getaddrinfo(std::move(host), std::move(port), family, type, protocol,
                                          flags);
}

Task<NameInfo> getnameinfo_impl(Address address, int flags) {
  // Only numeric answers can be had without a lookup (Trio has no fast path here at all).
  if ((flags & (NI_NUMERICHOST | NI_NUMERICSERV)) == (NI_NUMERICHOST | NI_NUMERICSERV)) {
    co_await checkpoint_if_cancelled();
    NameInfo info = take_ni(os_getnameinfo(address, flags), address);
    co_await cancel_shielded_checkpoint();
    co_return info;
  }
  co_return co_await run_resolver().getnameinfo(std::move(address), flags);
}

}  // namespace

HostnameResolver* set_custom_hostname_resolver(HostnameResolver* resolver) {
  HostnameResolver* previous = custom_resolver.get_or(nullptr);
  custom_resolver.set(resolver);
  return previous;
}

// Not coroutines: they copy the caller's views into the frame of the one that is.
Task<std::vector<AddrInfo>> getaddrinfo(std::string_view host, std::string_view port, int family,
                                        int type, int protocol, int flags) {
  return getaddrinfo_impl(std::string(host), std::string(port), family, type, protocol, flags);
}

Task<std::vector<AddrInfo>> getaddrinfo(std::string_view host, uint16_t port, int family, int type,
                                        int protocol, int flags) {
  return getaddrinfo_impl(std::string(host), std::to_string(port), family, type, protocol, flags);
}

Task<NameInfo> getnameinfo(const Address& address, int flags) {
  return getnameinfo_impl(address, flags);
}

}  // namespace trio::socket
