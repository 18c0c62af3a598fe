#include "signals.hpp"

#include "common.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <system_error>
#include <unistd.h>

namespace syncq {

namespace {

std::atomic<bool> stop_flag{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

// SIGINT/SIGTERM: ask to stop. A signal that lands between the queue's interrupt hook
// and its futex sleep would be missed by that sleep, so we also arm SIGALRM, whose
// handler re-arms itself: every second a blocked wait gets EINTR and re-runs the hook
// until the process has stopped. alarm() is async-signal-safe.
extern "C" void on_stop_signal(int /*signal*/) {
  const int saved_errno = errno;
  stop_flag.store(true, std::memory_order_relaxed); // read by the same thread or after EINTR
  ::alarm(1);
  errno = saved_errno;
}

extern "C" void on_alarm(int /*signal*/) {
  const int saved_errno = errno;
  if (stop_flag.load(std::memory_order_relaxed)) {
    ::alarm(1);
  }
  errno = saved_errno;
}

void install(int signal, void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0; // no SA_RESTART: blocking system calls must return EINTR
  if (::sigaction(signal, &action, nullptr) != 0) {
    throw Failure(std::string("sigaction: ") + std::generic_category().message(errno));
  }
}

} // namespace

void install_stop_handlers() {
  install(SIGALRM, on_alarm);
  install(SIGINT, on_stop_signal);
  install(SIGTERM, on_stop_signal);
}

bool stop_requested() noexcept { return stop_flag.load(std::memory_order_relaxed); }

void throw_if_stop_requested() {
  if (stop_requested()) {
    throw pysyncq::Interrupted("interrupted by a signal");
  }
}

} // namespace syncq
