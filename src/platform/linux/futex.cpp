#include "platform/futex.hpp"

#include "platform/syscall.hpp"

#include <climits>
#include <ctime>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace pysyncq::platform {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t),
              "the kernel sees the atomic as a plain 32-bit word");

FutexWaitResult futex_wait(std::atomic<std::uint32_t> &word, std::uint32_t expected,
                           Deadline deadline, std::uint32_t wake_bits) {
  timespec absolute{};
  const timespec *timeout = nullptr;
  if (!deadline.is_never()) {
    // steady_clock is CLOCK_MONOTONIC, the clock FUTEX_WAIT_BITSET measures against when
    // FUTEX_CLOCK_REALTIME is absent; an absolute deadline survives EINTR restarts.
    auto since_epoch = deadline.when().time_since_epoch();
    if (since_epoch.count() < 0) {
      return FutexWaitResult::kTimedOut;
    }
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    absolute.tv_sec = static_cast<time_t>(seconds.count());
    absolute.tv_nsec = static_cast<long>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds).count());
    timeout = &absolute;
  }
  long rc = syscall(SYS_futex, reinterpret_cast<std::uint32_t *>(&word), FUTEX_WAIT_BITSET,
                    expected, timeout, nullptr, wake_bits == 0 ? kEveryWakeBit : wake_bits);
  if (rc == 0) {
    return FutexWaitResult::kWokenOrChanged;
  }
  switch (errno) {
  case EAGAIN:
    return FutexWaitResult::kWokenOrChanged;
  case ETIMEDOUT:
    return FutexWaitResult::kTimedOut;
  case EINTR:
    return FutexWaitResult::kInterrupted;
  default:
    throw_syscall_error("futex_wait", "queue wait word", errno);
  }
}

void futex_wake_all(std::atomic<std::uint32_t> &word) noexcept {
  // Cannot fail on a valid shared mapping; a failure would only mean no one was woken,
  // which every sleeper's deadline or re-check covers.
  syscall(SYS_futex, reinterpret_cast<std::uint32_t *>(&word), FUTEX_WAKE, INT_MAX, nullptr,
          nullptr, 0);
}

void futex_wake_bits(std::atomic<std::uint32_t> &word, std::uint32_t bits) noexcept {
  // As futex_wake_all; FUTEX_WAKE_BITSET takes the mask in its last argument (val3).
  syscall(SYS_futex, reinterpret_cast<std::uint32_t *>(&word), FUTEX_WAKE_BITSET, INT_MAX, nullptr,
          nullptr, bits);
}

} // namespace pysyncq::platform
