// futex_wait / futex_wake_all (platform/futex.hpp) on macOS, compiled only on Apple and
// written from Apple's documentation; not yet run on a Mac (README, platform table).
//
// macOS 14.4 and later: os_sync_wait_on_address (<os/os_sync_wait_on_address.h>) with
// OS_SYNC_WAIT_ON_ADDRESS_SHARED, and its wake with OS_SYNC_WAKE_BY_ADDRESS_SHARED: the
// SHARED flags on both sides, since waiter and waker are in different processes that map
// the word at different addresses. Earlier: __ulock_wait / __ulock_wake with
// UL_COMPARE_AND_WAIT_SHARED, the system's private interface that libc++ and other
// runtimes use for the same purpose.
#include "platform/futex.hpp"

#include "platform/syscall.hpp"

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <os/os_sync_wait_on_address.h>

extern "C" {
// From xnu's bsd/sys/ulock.h (not in the SDK's public headers).
int __ulock_wait(std::uint32_t operation, void *address, std::uint64_t value,
                 std::uint32_t timeout_us);
int __ulock_wake(std::uint32_t operation, void *address, std::uint64_t wake_value);
}

namespace pysyncq::platform {

namespace {
constexpr std::uint32_t kUlCompareAndWaitShared = 3; // UL_COMPARE_AND_WAIT_SHARED
constexpr std::uint32_t kUlfWakeAll = 0x100;         // ULF_WAKE_ALL
// __ulock_wait takes a 32-bit microsecond timeout, 0 meaning none: a longer wait is cut
// into sleeps of this length (the caller re-checks and sleeps again).
constexpr std::uint64_t kMaxUlockTimeoutUs = 0xFFFF'FFFFULL / 2;

// The time left until `deadline` in nanoseconds; 0 when it has passed.
std::uint64_t nanoseconds_left(Deadline deadline) noexcept {
  const auto left = deadline.when() - std::chrono::steady_clock::now();
  return left.count() <= 0
             ? 0
             : static_cast<std::uint64_t>(
                   std::chrono::duration_cast<std::chrono::nanoseconds>(left).count());
}

FutexWaitResult result_of(int rc, int error) {
  if (rc >= 0) {
    return FutexWaitResult::kWokenOrChanged;
  }
  switch (error) {
  case ETIMEDOUT:
    return FutexWaitResult::kTimedOut;
  case EINTR:
    return FutexWaitResult::kInterrupted;
  case EFAULT: // the word's page was not mapped in yet: re-check, as a spurious wake-up
    return FutexWaitResult::kWokenOrChanged;
  default:
    throw_syscall_error("wait_on_address", "queue wait word", error);
  }
}
} // namespace

FutexWaitResult futex_wait(std::atomic<std::uint32_t> &word, std::uint32_t expected,
                           Deadline deadline, std::uint32_t /*wake_bits*/) {
  void *address = &word;
  std::uint64_t left_ns = 0;
  if (!deadline.is_never()) {
    left_ns = nanoseconds_left(deadline);
    if (left_ns == 0) {
      return FutexWaitResult::kTimedOut;
    }
  }
  if (__builtin_available(macOS 14.4, *)) {
    const int rc =
        deadline.is_never()
            ? os_sync_wait_on_address(address, expected, sizeof(std::uint32_t),
                                      OS_SYNC_WAIT_ON_ADDRESS_SHARED)
            : os_sync_wait_on_address_with_timeout(address, expected, sizeof(std::uint32_t),
                                                   OS_SYNC_WAIT_ON_ADDRESS_SHARED,
                                                   OS_CLOCK_MACH_ABSOLUTE_TIME, left_ns);
    return result_of(rc, errno);
  }
  std::uint32_t timeout_us = 0; // none
  if (!deadline.is_never()) {
    const std::uint64_t us = left_ns / 1000 + 1; // round up: never 0, which means none
    timeout_us = static_cast<std::uint32_t>(us < kMaxUlockTimeoutUs ? us : kMaxUlockTimeoutUs);
  }
  const int rc = __ulock_wait(kUlCompareAndWaitShared, address, expected, timeout_us);
  return result_of(rc, errno);
}

void futex_wake_all(std::atomic<std::uint32_t> &word) noexcept {
  // Fails only with ENOENT (nobody waits), which is no failure here.
  if (__builtin_available(macOS 14.4, *)) {
    (void)os_sync_wake_by_address_all(&word, sizeof(std::uint32_t),
                                      OS_SYNC_WAKE_BY_ADDRESS_SHARED);
    return;
  }
  (void)__ulock_wake(kUlCompareAndWaitShared | kUlfWakeAll, &word, 0);
}

// No sleeper selection here: every wake reaches every sleeper (futex.hpp allows it).
void futex_wake_bits(std::atomic<std::uint32_t> &word, std::uint32_t /*bits*/) noexcept {
  futex_wake_all(word);
}

} // namespace pysyncq::platform
