// Waiting and waking across processes on a 32-bit word in shared memory ("futex" in the
// general sense: sleep while the word holds a value). Only the shared kinds ever: the
// waiters are in other processes, which map the word at other addresses.
//
// Per OS (chosen by CMake): linux/futex.cpp (futex(2), never the PRIVATE variants);
// darwin/wait_on_address.cpp (os_sync_wait_on_address or __ulock_wait, SHARED flags).
#pragma once

#include "pysyncq/deadline.hpp"

#include <atomic>
#include <cstdint>

namespace pysyncq::platform {

enum class FutexWaitResult {
  kWokenOrChanged, // woken, or the word no longer held `expected`: re-check the condition
  kTimedOut,       // the deadline passed
  kInterrupted,    // a signal arrived (EINTR): let the caller look at it, then re-check
};

/// Sleeps while `*word == expected`, until woken or `deadline` (absolute, monotonic).
FutexWaitResult futex_wait(std::atomic<std::uint32_t> &word, std::uint32_t expected,
                           Deadline deadline);

/// Wakes every sleeper on `word`. Waking all, never one, means a sleeper killed in its
/// sleep can never swallow the wake-up that a live sleeper needed.
void futex_wake_all(std::atomic<std::uint32_t> &word) noexcept;

} // namespace pysyncq::platform
